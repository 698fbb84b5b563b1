"""A producer learns what became of each command by its id: accepted (with the events it caused),
rejected (with the reason) or poisoned (set aside, with the reason), over HTTP and on the
command-results topic; an unknown id is a 404."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import CommandResult, CommandStatus, ShellTask, SubmitJob
from jobstream.schemas.codec import HEADER_LEN, MARKER
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import TopicReader, poll
from tests.unit.builders import spec


def submit(job_id: str, command_id: str) -> SubmitJob:
    return SubmitJob(envelope=command_envelope(SubmitJob, job_id, "billing", command_id=command_id),
                     spec=spec(task=ShellTask(argv=["true"])))


def fate(client: httpx.Client, command_id: str) -> dict[str, Any]:
    return poll(lambda: (r := client.get(f"/v1/commands/{command_id}")).status_code == 200 and r.json(), 90,
                f"command {command_id} to have a result")


def test_every_command_has_a_fate_by_its_id(stack: httpx.Client, test_settings: Settings) -> None:
    # Given a job submitted, a second submit of the same job, and a submit written with an unknown schema
    job_id, poisoned_job = new_job_id(), new_job_id()
    accepted, rejected, poisoned = (f"{kind}-{uuid.uuid4().hex}" for kind in ("acc", "rej", "poi"))
    results = TopicReader(test_settings, Topics(test_settings.topic_prefix).command_results)
    publisher = Publisher(test_settings)
    publisher.send_command(submit(job_id, accepted))
    publisher.flush()
    fate(stack, accepted)  # decided before the repeat is sent
    publisher.send_command(submit(job_id, rejected))
    body = publisher.codec.encode(submit(poisoned_job, poisoned))[HEADER_LEN:]
    publisher.producer.produce(publisher.topics.commands, key=poisoned_job.encode(),
                               value=MARKER + bytes(8) + body)
    publisher.flush()

    # When the producer asks what became of each, by id
    first, second, third = (fate(stack, command_id) for command_id in (accepted, rejected, poisoned))
    unknown = stack.get(f"/v1/commands/never-sent-{uuid.uuid4().hex}")

    # Then the first was accepted with the events it caused, the second rejected, the third poisoned
    assert (first["status"], first["job_id"], first["reason"]) == ("accepted", job_id, None), first
    assert [e["type"] for e in first["events"]][:1] == ["JobSubmitted"], first
    assert all(e["event_id"].startswith(f"{job_id}:") for e in first["events"]), first
    assert (second["status"], second["reason"]) == ("rejected", f"job {job_id} already exists"), second
    assert [e["type"] for e in second["events"]] == ["CommandRejected"], second
    assert (third["status"], third["job_id"], third["events"]) == ("poisoned", poisoned_job, []), third
    assert third["reason"] == "unknown schema fingerprint 0000000000000000", third
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"

    # And the command-results topic, keyed by command id, says the same
    def latest() -> dict[str, CommandResult]:
        return {r.command_id: r for r in results.records}

    results.wait_for(lambda _: {accepted, rejected, poisoned} <= latest().keys(), 90, "the three results")
    statuses = {command_id: latest()[command_id].status for command_id in (accepted, rejected, poisoned)}
    assert statuses == {accepted: CommandStatus.ACCEPTED, rejected: CommandStatus.REJECTED,
                        poisoned: CommandStatus.POISONED}
    assert latest()[rejected].reason == f"job {job_id} already exists"  # the rejection's payload was read back
    results.close()
