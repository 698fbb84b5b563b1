"""A 1-slot worker never runs two jobs at once, whatever credits reach the dispatcher: repeated and
stale copies of its own credits, and credits that overstate its room (from a worker that does not
number them), against real processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.schemas import JobReturned, WorkerCredit
from jobstream.streams.kafka_io import Publisher
from tests.integration.harness import ServiceProcess, TopicReader, api_stack, wait_terminal

WORKER = "one-slot-worker"
QUEUE = "one-slot"
JOBS = 6


@pytest.fixture
def stack(test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
          unique_name: str) -> Iterator[httpx.Client]:
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    with api_stack(settings, services, tmp_path, unique_name,
                   ["state-processor", "dispatcher", "projector", "api"]) as client:
        services["worker"] = ServiceProcess("worker", ["worker", "--slots", "1", "--queue", QUEUE,
                                                       "--worker-id", WORKER], settings, tmp_path).start()
        yield client


class CreditNoise(threading.Thread):
    """Sends, every 50 ms until stopped (bounded by a deadline), copies of the worker's own earlier
    credits (repeats and stale ones) and an unnumbered credit claiming four free slots."""

    def __init__(self, settings: Settings, own: list[WorkerCredit], deadline_s: float) -> None:
        super().__init__(daemon=True)
        self.publisher, self.own, self.deadline_s = Publisher(settings), own, deadline_s
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        topic, ends = self.publisher.topics.dispatch, time.monotonic() + self.deadline_s
        while not self.stop.wait(0.05) and time.monotonic() < ends:
            stale = self.own[self.sent % len(self.own)]
            overstated = WorkerCredit(worker_id=WORKER, queue=QUEUE, free_slots=4, received=0, cpu_free=8.0,
                                      memory_mb_free=4096, issued_at=datetime.now(UTC))
            for credit in (stale, overstated):
                self.publisher.publish(topic, QUEUE, credit)
            self.publisher.producer.poll(0)
            self.sent += 1
        self.publisher.producer.flush(10)


def test_a_one_slot_worker_never_overlaps_and_hands_back_what_it_has_no_room_for(
        stack: httpx.Client, test_settings: Settings, tmp_path: Path) -> None:
    # Given a 1-slot worker whose own credits have reached the dispatch topic
    reader = TopicReader(test_settings, Topics(test_settings.topic_prefix).dispatch)
    reader.wait_for(lambda records: any(isinstance(r, WorkerCredit) and r.worker_id == WORKER for r in records),
                    60, "the worker's first credit")
    own = [r for r in reader.records if isinstance(r, WorkerCredit) and r.worker_id == WORKER]
    reader.close()

    # When jobs that fail if another one runs beside them (an atomic mkdir as the lock) are queued,
    # while repeated, stale and overstated credits for the worker keep reaching the dispatcher
    lock = tmp_path / "lock"
    script = f"mkdir {lock} || exit 99; sleep 0.5; rmdir {lock}"
    noise = CreditNoise(test_settings, own, deadline_s=120)
    noise.start()
    try:
        job_ids = submit_all(stack, script)
        jobs = wait_terminal(stack, job_ids, timeout_s=120)
    finally:
        noise.stop.set()
        noise.join(15)

    # Then every job completed once, none saw another running (exit 99)
    assert {job_id: job["status"] for job_id, job in jobs.items()} == {job_id: "completed" for job_id in job_ids}
    events = {job_id: stack.get(f"/v1/jobs/{job_id}/events").json()["items"] for job_id in job_ids}
    assert all([e["type"] for e in evs].count("JobCompleted") == 1 for evs in events.values())
    # and the assignments the overstated credits drew were handed back, with the reason recorded
    returned = [e for evs in events.values() for e in evs if e["type"] == JobReturned.short_name()]
    assert noise.sent > 0 and returned, "the overstated credits never drew an assignment too many"
    assert all("no free slot" in e["payload"]["reason"] for e in returned), returned
    # and the worker said so once for each
    assert (tmp_path / "worker.log").read_text().count("handing back") == len(returned)


def submit_all(client: httpx.Client, script: str) -> list[str]:
    """Every job in one batch (one transaction): all are ready for the dispatcher at once."""
    task = {"type": "shell", "argv": ["sh", "-c", script]}
    response = client.post("/v1/jobs:batch", json={"jobs": [{"name": f"lock-{n}", "queue": QUEUE, "task": task}
                                                             for n in range(JOBS)]})
    assert response.status_code == 202, response.text
    return [str(job["job_id"]) for job in response.json()["jobs"]]
