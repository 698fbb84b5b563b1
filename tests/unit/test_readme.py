"""The READMEs cannot drift from the code: their offline command blocks (fenced as ```` ```bash offline ````)
run, and print what the ```` ```... output ```` block after them shows; every `jobstream` command line
of their other bash blocks names real commands and options (parsed, not run); the topic count they
state is the number of topics created."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from jobstream.cli import app
from jobstream.config import Settings
from jobstream.infra.topics import Topics

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "examples" / "python_tasks" / "README.md",
           ROOT / "examples" / "sdk" / "README.md"]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
JOBSTREAM = ".venv/bin/jobstream "


@dataclass(frozen=True)
class Block:
    readme: Path
    line: int
    info: str
    text: str

    def __str__(self) -> str:
        return f"{self.readme.relative_to(ROOT)}:{self.line}"


def blocks(readme: Path) -> list[Block]:
    source = readme.read_text()
    return [Block(readme, source.count("\n", 0, m.start()) + 1, m.group(1).strip(), m.group(2))
            for m in FENCE.finditer(source)]


def offline_blocks() -> list[tuple[Block, Block | None]]:
    """Each offline block, with the output block that follows it, if any."""
    found = []
    for readme in READMES:
        listed = blocks(readme)
        for block, following in zip(listed, [*listed[1:], None], strict=True):
            if block.info == "bash offline":
                output = following if following is not None and following.info.endswith(" output") else None
                found.append((block, output))
    return found


def command_lines() -> list[tuple[Block, str]]:
    """The `jobstream ...` part of every command line of every bash block (continuations joined)."""
    found = []
    for readme in READMES:
        for block in blocks(readme):
            if block.info.split(" ")[0] not in ("bash", "sh"):
                continue
            for line in block.text.replace("\\\n", " ").splitlines():
                if JOBSTREAM in line and not line.lstrip().startswith("#"):
                    command = line.split(JOBSTREAM, 1)[1].split(" | ")[0]
                    found.append((block, command))
    return found


def test_the_readmes_have_offline_blocks_with_their_output() -> None:
    # removing the markers must not make this test pass by having nothing to run
    assert len(offline_blocks()) >= 2 and all(output is not None for _, output in offline_blocks())


@pytest.mark.parametrize(("block", "output"), offline_blocks(), ids=lambda b: str(b) if b else "-")
def test_an_offline_block_runs_and_prints_what_the_readme_shows(block: Block, output: Block | None) -> None:
    script = block.text.replace(".venv/bin/", f"{Path(sys.executable).parent}/")  # whichever venv runs the tests
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSTREAM_")}
    env["JOBSTREAM_API_URL"] = "http://127.0.0.1:9"  # nothing listens: offline means offline
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"{block} failed:\n{done.stderr}"
    if output is not None:
        assert done.stdout.rstrip("\n") == output.text.rstrip("\n"), f"{block} printed something else"


@pytest.mark.parametrize(("block", "command"), command_lines(), ids=lambda x: str(x)[:60])
def test_every_jobstream_command_line_names_real_commands_and_options(block: Block, command: str) -> None:
    words = shlex.split(command, comments=True)
    current: Any = typer.main.get_command(app)  # typer's own click: groups are what has commands
    path: list[str] = []
    while words and words[0] in getattr(current, "commands", {}):
        path.append(words.pop(0))
        current = current.commands[path[-1]]
    assert path and not hasattr(current, "commands"), f"{block}: `jobstream {command}` is not a command"
    try:
        current.make_context(" ".join(path), list(words))  # parses the options; runs nothing
    except Exception as error:  # noqa: BLE001 - a usage error, named in the failure
        message = error.format_message() if hasattr(error, "format_message") else repr(error)
        raise AssertionError(f"{block}: `jobstream {command}`: {message}") from None


def test_the_topic_count_is_the_number_of_topics_created() -> None:
    created = len(Topics().specs(Settings.model_fields["partitions"].default))
    stated = [int(n) for n in re.findall(r"topics: (\d+) created", (ROOT / "README.md").read_text())]
    assert stated and set(stated) == {created}
