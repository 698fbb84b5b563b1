"""No split brain in the dispatcher and the worker monitor: an instance paused (SIGSTOP) until its
partitions moved to another, then resumed (SIGCONT), writes nothing after the new owner started.
Their transactions are bound to the group generation and the transactional id (streams/engine):
the resumed instance's commit is fenced, and read_committed readers never see its writes."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import wait_until
from jobstream.infra.topics import Topics
from jobstream.schemas import Assignment, JobCompleted, JobSpec, PythonTask, SubmitJob, WorkerLost, WorkerRegistered
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import ServiceProcess, TopicReader

NOOP = PythonTask(entrypoint="builtins:len", args_json="[[]]", isolation="inline")
# What an instance says once it has no partitions left or is fenced (streams/engine/loop.py).
GAVE_UP = ("revoked", "lost ", "exiting", "transaction aborted")


def _submit(publisher: Publisher, count: int, name: str) -> list[str]:
    jobs = [new_job_id() for _ in range(count)]
    for job_id in jobs:
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"),
                                         spec=JobSpec(name=name, task=NOOP)))
        publisher.poll(0)
    publisher.flush()
    return jobs


def _completed(records: list[object], jobs: list[str]) -> set[str]:
    wanted = set(jobs)
    return {r.envelope.job_id for r in records if isinstance(r, JobCompleted) and r.envelope.job_id in wanted}


def _gave_up_since(process: ServiceProcess, offset: int) -> bool:
    """Whether the instance said, after ``offset`` of its log, that its work is gone."""
    text = process.log_path.read_text(errors="replace")[offset:]
    return process.process is not None and (process.process.poll() is not None or any(w in text for w in GAVE_UP))


def test_a_paused_dispatcher_resumed_after_its_queues_moved_assigns_nothing(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given dispatcher A assigning a burst of jobs to a worker
    def start(name: str, args: list[str]) -> ServiceProcess:
        services[name] = ServiceProcess(name, args, test_settings, tmp_path).start()
        return services[name]

    start("state-processor", ["state-processor"])
    start("worker", ["worker", "--slots", "8"])
    a = start("dispatcher-a", ["dispatcher", "--instance-id", "dispatcher-a"])
    publisher = Publisher(test_settings)
    events = TopicReader(test_settings, topics_ready.events)
    burst = _submit(publisher, 1500, "burst")
    events.wait_for(lambda records: len(_completed(records, burst)) > 50, 120, "A to be assigning the burst")

    # When A is paused mid-burst, B takes its queues over and finishes the burst
    a.signal(signal.SIGSTOP)
    start("dispatcher-b", ["dispatcher", "--instance-id", "dispatcher-b"])
    after = _submit(publisher, 100, "after-takeover")
    events.wait_for(lambda records: _completed(records, burst + after) == set(burst + after), 240,
                    "B to have every job run")

    # And A runs again, with whatever ready work and credits it held
    log_offset = len(a.log_path.read_text(errors="replace"))
    a.signal(signal.SIGCONT)
    wait_until(lambda: _gave_up_since(a, log_offset), 90, "the resumed A to find its queues gone")
    late = _submit(publisher, 50, "late")
    events.wait_for(lambda records: _completed(records, late) == set(late), 120, "the late jobs")
    events.drain(quiet_s=2.0)

    # Then no execution was assigned twice (A's assignments were never committed) and each job ran once
    assignments = TopicReader(test_settings, topics_ready.assignments)
    assignments.wait_for(lambda records: len([r for r in records if isinstance(r, Assignment)]) >= len(
        burst + after + late), 60, "every assignment")
    assignments.drain(quiet_s=2.0)
    twice = [e for e, n in Counter(r.execution_id for r in assignments.records if isinstance(r, Assignment)).items()
             if n > 1]
    assert not twice, f"{len(twice)} executions assigned twice, e.g. {twice[:3]}"
    completions = Counter(r.envelope.job_id for r in events.records if isinstance(r, JobCompleted))
    assert all(completions[job] == 1 for job in burst + after + late)
    events.close()
    assignments.close()


def test_a_paused_worker_monitor_resumed_after_its_workers_moved_declares_nothing(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given monitor A watching three workers, and proving it by declaring a first one lost
    a = services["monitor-a"] = ServiceProcess("monitor-a", ["worker-monitor", "--instance-id", "monitor-a"],
                                               test_settings, tmp_path).start()
    workers = {n: ServiceProcess(f"worker-{n}", ["worker", "--slots", "1"], test_settings, tmp_path).start()
               for n in range(3)}
    services.update({f"worker-{n}": w for n, w in workers.items()})
    reader = TopicReader(test_settings, topics_ready.workers)

    def registered(records: list[object]) -> dict[int, str]:
        by_pid = {r.pid: r.envelope.worker_id for r in records if isinstance(r, WorkerRegistered)}
        return {n: by_pid[w.pid] for n, w in workers.items() if w.pid in by_pid}

    def lost(records: list[object]) -> Counter[str]:
        return Counter(r.envelope.worker_id for r in records if isinstance(r, WorkerLost))

    reader.wait_for(lambda records: len(registered(records)) == 3, 120, "three workers to register")
    ids = registered(reader.records)
    workers[0].kill()
    reader.wait_for(lambda records: lost(records)[ids[0]] == 1, 90, "A to declare the first worker lost")

    # When A is paused, the other two workers die, and B takes the workers topic over
    a.signal(signal.SIGSTOP)
    workers[1].kill()
    workers[2].kill()
    services["monitor-b"] = ServiceProcess("monitor-b", ["worker-monitor", "--instance-id", "monitor-b"],
                                           test_settings, tmp_path).start()
    reader.wait_for(lambda records: lost(records)[ids[1]] >= 1 and lost(records)[ids[2]] >= 1, 120,
                    "B to declare both workers lost")

    # And A runs again: by its clock both are long overdue
    log_offset = len(a.log_path.read_text(errors="replace"))
    a.signal(signal.SIGCONT)
    wait_until(lambda: _gave_up_since(a, log_offset), 90, "the resumed A to find its workers gone")
    reader.drain(quiet_s=3.0)

    # Then each worker was declared lost once, and no worker event position was written twice
    assert [lost(reader.records)[ids[n]] for n in range(3)] == [1, 1, 1]
    positions = Counter((r.envelope.worker_id, r.envelope.seq) for r in reader.records)
    assert not [p for p, n in positions.items() if n > 1]
    reader.close()
