"""Two instances of each processor on the exactly-once engine share the partitions; kill -9 of
one of each in the middle of a burst moves its partitions to the other, and every job still
completes once, its events gapless."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import JobCompleted, JobSpec, PythonTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import ServiceProcess, TopicReader

JOBS = 600
NOOP = PythonTask(entrypoint="builtins:len", args_json="[[]]", isolation="inline")


def _completed(records: list[object]) -> set[str]:
    return {r.envelope.job_id for r in records if isinstance(r, JobCompleted)}


def test_kill_9_of_one_of_two_instances_of_each_processor(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given two instances of the state processor, the dispatcher and the worker monitor, and a worker
    for name in ("state-processor", "dispatcher", "worker-monitor"):
        for n in (1, 2):
            args = [name, "--instance-id", f"{name}-{n}"]
            services[f"{name}-{n}"] = ServiceProcess(f"{name}-{n}", args, test_settings, tmp_path).start()
    services["worker"] = ServiceProcess("worker", ["worker", "--slots", "8"], test_settings, tmp_path).start()
    publisher = Publisher(test_settings)
    reader = TopicReader(test_settings, topics_ready.events)

    # When a burst of jobs runs and one instance of each is killed -9 a third of the way through
    job_ids = [new_job_id() for _ in range(JOBS)]
    for n, job_id in enumerate(job_ids):
        spec = JobSpec(name=f"burst-{n}", task=NOOP)
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
        publisher.poll(0)
    publisher.flush()
    reader.wait_for(lambda records: len(_completed(records)) >= JOBS // 3, 180, "a third of the jobs to complete")
    for name in ("state-processor", "dispatcher", "worker-monitor"):
        services[f"{name}-1"].kill()
    killed_at, done_at_kill = time.monotonic(), len(_completed(reader.records))
    assert done_at_kill < JOBS, "the kill came after the burst: nothing was tested"
    reader.wait_for(lambda records: len(_completed(records)) > done_at_kill, 60, "processing to resume")
    resumed_after_s = time.monotonic() - killed_at
    reader.wait_for(lambda records: _completed(records) >= set(job_ids), 180, "every job to complete")
    all_done_after_s = time.monotonic() - killed_at
    reader.drain(quiet_s=2.0)

    # Then each job completed once, with its events in order and without gaps
    completions = Counter(r.envelope.job_id for r in reader.records if isinstance(r, JobCompleted))
    assert all(completions[job_id] == 1 for job_id in job_ids), completions.most_common(3)
    seqs: dict[str, list[int]] = defaultdict(list)
    for record in reader.records:
        seqs[record.envelope.job_id].append(record.envelope.seq)
    assert all(seqs[job_id] == list(range(1, len(seqs[job_id]) + 1)) for job_id in job_ids)
    print(f"processing resumed {resumed_after_s:.1f}s after the kill; all done {all_done_after_s:.1f}s after it")
    reader.close()
