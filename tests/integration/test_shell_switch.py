"""``shell: true`` per namespace, against the real broker, Postgres and processes: refused by the
API (naming the field) and by the state processor (for a command sent straight to Kafka) until an
admin allows it with ``jobstream quotas set --allow-shell``; then it runs through /bin/sh."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.keys_admin import set_quota
from jobstream.schemas import DEFAULT_NAMESPACE, JobSpec, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import poll, wait_terminal

SCRIPT = "echo from-sh-$((40 + 2))"  # only a shell expands $((...))
TASK = {"type": "shell", "argv": [SCRIPT], "shell": True}
REFUSED = "namespace default does not allow shell: true"


def _sent_to_kafka(settings: Settings) -> str:
    """A shell: true submission produced straight to the commands topic; its command id."""
    spec = JobSpec(name="sh-direct", task=ShellTask(argv=[SCRIPT], shell=True))
    command = SubmitJob(envelope=command_envelope(SubmitJob, new_job_id(), "test", namespace=DEFAULT_NAMESPACE),
                        spec=spec)
    publisher = Publisher(settings)
    publisher.send_command(command)
    publisher.flush()
    return command.envelope.command_id


def _result(stack: httpx.Client, command_id: str) -> dict | None:  # type: ignore[type-arg]
    answer = stack.get(f"/v1/commands/{command_id}")
    return answer.json() if answer.status_code == 200 else None


def _output(stack: httpx.Client, execution_id: str) -> str:
    chunks = stack.get(f"/v1/executions/{execution_id}/logs").json()["items"]
    return "".join(chunk["data"] for chunk in chunks)


def test_shell_true_is_refused_until_the_namespace_allows_it(stack: httpx.Client, test_settings: Settings) -> None:
    # Given the default namespace, which no admin has allowed shell: true
    # When such a job is submitted to the API, alone or in a batch
    alone = stack.post("/v1/jobs", json={"name": "sh", "task": TASK})
    batch = stack.post("/v1/jobs:batch", json={"jobs": [{"ref": "a", "name": "sh", "task": TASK}]})
    # Then both are 422s naming the field, and nothing is sent
    assert alone.status_code == 422, alone.text
    assert alone.json()["errors"][0]["field"] == "task.shell" and REFUSED in alone.json()["errors"][0]["detail"]
    assert batch.status_code == 422 and batch.json()["errors"][0]["field"] == "jobs[0].task.shell", batch.text
    # And one sent straight to Kafka is rejected by the state processor, with the same reason
    refused_id = _sent_to_kafka(test_settings)
    direct = poll(lambda: _result(stack, refused_id), 60, "the direct submission's result")
    assert direct["status"] == "rejected" and REFUSED in direct["reason"], direct

    # When an admin allows it
    set_quota(test_settings, DEFAULT_NAMESPACE, datetime.now(UTC), allow_shell=True)
    # Then the API takes it (within a poll of its key ring) and the job runs through /bin/sh
    accepted = poll(lambda: (r := stack.post("/v1/jobs", json={"name": "sh", "task": TASK})).status_code == 201
                    and r.json(), 30, "the API to accept shell: true")
    job = wait_terminal(stack, [accepted["job_id"]], 90)[accepted["job_id"]]
    assert job["status"] == "completed", job
    poll(lambda: "from-sh-42" in _output(stack, job["execution_id"]), 60, "the shell's output in the job's log")
    # And the state processor accepts one sent straight to Kafka too
    command_id = _sent_to_kafka(test_settings)
    assert poll(lambda: _result(stack, command_id), 60, "the second direct submission's result")["status"] \
        == "accepted"
