"""`jobstream kafka TOOL [ARGS...]`: Kafka's operator tools against the configured broker.

Each tool is a sub-command whose arguments (``--help`` included) go to the tool untouched, so
that Kafka's own documentation applies as written; ``jobstream kafka --help`` lists the tools.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

import typer

from jobstream.config import Settings
from jobstream.infra.kafka_tools import TOOLS, Tool, tool_command
from jobstream.infra.process import InfraError

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}


def register_kafka_tools(app: typer.Typer) -> None:
    kafka_app = typer.Typer(
        no_args_is_help=True,
        help="Kafka's operator tools (as bin/kafka-TOOL.sh), run against the configured bootstrap servers "
             "(JOBSTREAM_KAFKA_BOOTSTRAP, or the local broker) unless --bootstrap-server is given. "
             "`jobstream kafka TOOL --help` shows the tool's own options.",
    )
    for tool in TOOLS:
        kafka_app.command(tool.name, help=f"{tool.summary} (kafka-{tool.name}.sh)", add_help_option=False,
                          context_settings=PASS_THROUGH)(_runner(tool))
    app.add_typer(kafka_app, name="kafka")


def _runner(tool: Tool) -> Callable[[typer.Context], None]:
    def run(ctx: typer.Context) -> None:
        run_tool(tool, list(ctx.args))

    return run


def run_tool(tool: Tool, args: list[str]) -> None:
    """Replace this process with the tool's JVM: its output, exit code and Ctrl-C are the tool's own."""
    from jobstream.infra.stack import Infra

    settings = Settings.from_env()
    kafka = Infra(settings).kafka
    if not (kafka.libs / ".complete").exists():
        typer.echo(f"fetching Kafka {settings.kafka_version}'s jars with Maven (once)...", err=True)
    kafka.ensure_jars()
    if shutil.which("java") is None:
        raise InfraError("java is not on PATH; Kafka's tools need Java 17")
    command = tool_command(tool, kafka.libs, args, settings.kafka_bootstrap)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)
