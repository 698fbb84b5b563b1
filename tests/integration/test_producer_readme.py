"""The README's producer, run verbatim from another process against the real broker: the job it
submits completes, and its command id says it was accepted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from jobstream.config import Settings
from jobstream.schemas.export import export_schemas
from tests.integration.harness import wait_terminal

README = Path(__file__).resolve().parents[2] / "README.md"


def producer_block() -> str:
    found = re.findall(r"^```python producer\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)
    assert len(found) == 1, "the README has one producer block"
    return str(found[0])


def test_the_readme_producer_submits_a_job_that_completes(stack: httpx.Client, test_settings: Settings,
                                                           tmp_path: Path) -> None:
    # Given the schemas exported as the README says, and its producer block in a file of its own
    export_schemas(tmp_path / "avro-schemas")
    script = tmp_path / "producer.py"
    script.write_text(producer_block())

    # When a separate Python process runs it against the test's broker and topics
    env = {**os.environ, **test_settings.as_env(), "SCHEMAS_DIR": str(tmp_path / "avro-schemas")}
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    job_id, command_id = done.stdout.split()

    # Then the job it submitted completes
    job = wait_terminal(stack, [job_id], timeout_s=120)[job_id]
    assert job["status"] == "completed" and job["name"] == "invoice", job
    # And its command id says it was accepted, with the job's submission among the events it caused
    fate = stack.get(f"/v1/commands/{command_id}").json()
    assert (fate["status"], fate["job_id"], fate["events"][0]["type"]) == ("accepted", job_id, "JobSubmitted"), fate
