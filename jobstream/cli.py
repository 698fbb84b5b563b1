"""The ``jobstream`` command line: one entry point, sub-commands wired explicitly."""

from __future__ import annotations

import typer

from jobstream.config import Settings
from jobstream.infra.process import InfraError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="jobstream: event-sourced job scheduling on Kafka")
infra_app = typer.Typer(no_args_is_help=True, help="Start, stop and inspect the local broker and database.")
app.add_typer(infra_app, name="infra")


def _infra():  # type: ignore[no-untyped-def]
    from jobstream.infra.stack import Infra

    return Infra(Settings.from_env())


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


@infra_app.command("install")
def infra_install() -> None:
    """Fetch the Kafka broker jars and install Debian's PostgreSQL server, when missing."""
    from jobstream.infra.postgres import install_server

    infra = _infra()
    if not infra.settings.external_kafka:
        infra.kafka.ensure_jars()
        typer.echo(f"kafka {infra.settings.kafka_version} jars: {infra.kafka.libs}")
    if not infra.settings.external_database_url:
        typer.echo(f"postgres server binaries: {install_server()}")


@infra_app.command("up")
def infra_up() -> None:
    """Start Kafka (KRaft) and Postgres in the background, wait until ready, create topics."""
    _print_lines(_infra().up())


@infra_app.command("down")
def infra_down() -> None:
    """Stop the local Kafka and Postgres started by `infra up`."""
    _print_lines(_infra().down())


@infra_app.command("status")
def infra_status() -> None:
    """Say whether the broker and the database run and answer."""
    _print_lines(_infra().status())


@app.command("state-processor")
def state_processor(instance_id: str = typer.Option(None, help="static group membership id")) -> None:
    """Run the job state processor (the only writer of job events)."""
    from jobstream.streams.state_processor import run_state_processor

    run_state_processor(Settings.from_env(), instance_id=instance_id)


@app.command("dispatcher")
def dispatcher(instance_id: str = typer.Option(None, help="static group membership id")) -> None:
    """Run the dispatcher (matches ready executions to workers' credits, per queue)."""
    from jobstream.streams.dispatcher import run_dispatcher

    run_dispatcher(Settings.from_env(), instance_id=instance_id)


@app.command("worker")
def worker(
    queue: list[str] = typer.Option(["default"], "--queue", "-q", help="queue to serve (repeatable)"),
    slots: int = typer.Option(4, help="executions at once"),
    cpu: float = typer.Option(None, help="CPU cores offered (default: all)"),
    memory_mb: int = typer.Option(4096, "--memory-mb", help="memory offered, MiB"),
    label: list[str] = typer.Option([], "--label", "-l", help="k=v label (repeatable)"),
) -> None:
    """Run a worker that executes jobs from the given queues."""
    from jobstream.worker.process import WorkerSpec, run_worker

    labels = dict(item.split("=", 1) for item in label if "=" in item)
    spec = WorkerSpec(queues=tuple(queue), slots=slots, memory_mb=memory_mb, labels=labels,
                      **({"cpu": cpu} if cpu is not None else {}))
    run_worker(Settings.from_env(), spec)


def main() -> None:
    try:
        app()
    except InfraError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
