"""Capacity holds whatever reaches the dispatcher: a simulation of the pure dispatch board, workers
that admit or hand back what they are sent (``core/admission.py``), and a stand-in for the state
processor's leases, driven by hypothesis through random interleavings of credits (repeated,
reordered, stale), ready jobs, assignments, finishes, losses and restarts.

Two properties:
- with one dispatcher and workers of one queue each, what is in flight on a worker (running plus
  sent, not yet received) never exceeds its slots, cpu or memory, nor a queue's or a namespace's
  in-flight count its limit or cap: the board's own accounting holds whatever order credits come in;
- with dispatcher restarts, workers restarted under the same id and workers of several queues,
  the board can send one too many (a predecessor's assignments in transit are unknown to it; a
  queue's credit does not know what is on its way from another), but no worker ever runs more
  than its capacity, and no job is lost or run to completion twice.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.admission import WorkerCapacity, free, refusal, split_slots
from jobstream.core.dispatch import DispatchBoard
from jobstream.schemas import JobReady, JobSpec, Requirements, WorkerCredit
from tests.unit.builders import T0, spec

QUEUES = ("q1", "q2")
LIMITS = {"q1": 2}  # below the 3 slots of its workers; q2 has no limit
NAMESPACES = ("a", "b")
CAPS = {"a": 1}  # a spans both queues; b has no cap
NEEDS = [None, Requirements(cpu=1.0), Requirements(memory_mb=512), Requirements(cpu=0.5, memory_mb=1024)]
# Workers of one queue each: the board's accounting per (worker, queue) is then exact. A worker of
# several queues splits its free slots between their credits without knowing what is on its way
# from each, so the board can send it one too many across queues; the worker hands that back.
ONE_QUEUE = [WorkerCapacity(("q1",), slots=1, cpu=1.0, memory_mb=1024),
             WorkerCapacity(("q1",), slots=2, cpu=1.5, memory_mb=2048),
             WorkerCapacity(("q2",), slots=3, cpu=1.5, memory_mb=2048)]
SEVERAL_QUEUES = [WorkerCapacity(QUEUES, slots=1, cpu=1.0, memory_mb=1024),
                  WorkerCapacity(QUEUES, slots=3, cpu=1.5, memory_mb=2048)]


@dataclass(frozen=True)
class Sent:
    job_id: str
    execution_id: str
    attempt: int
    spec: JobSpec
    namespace: str


@dataclass
class SimWorker:
    worker_id: str
    capacity: WorkerCapacity
    incarnation: int
    seq: int = 0
    received: dict[str, int] = field(default_factory=lambda: {q: 0 for q in QUEUES})  # what it serves
    inbox: deque[Sent] = field(default_factory=deque)
    running: dict[str, Sent] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def credits(self, now: datetime) -> list[WorkerCredit]:
        room = free(self.capacity, [s.spec.requirements for s in self.running.values()])
        out = []
        for queue, slots in split_slots(room.slots, self.capacity.queues, self.seq).items():
            self.seq += 1
            running = Counter(s.namespace for s in self.running.values() if s.spec.queue == queue)
            out.append(WorkerCredit(worker_id=self.worker_id, queue=queue, free_slots=slots,
                                    received=self.received[queue], cpu_free=room.cpu, memory_mb_free=room.memory_mb,
                                    issued_at=now, running=running.total(), incarnation=self.incarnation,
                                    seq=self.seq, running_namespaces=dict(running)))
        return out


@dataclass
class Job:
    spec: JobSpec
    namespace: str
    attempt: int = 1
    holder: str | None = None  # the worker holding the current lease
    done: int = 0


class World:
    def __init__(self, capacities: list[WorkerCapacity]) -> None:
        self.now = T0
        self.board = DispatchBoard(queue_limits=LIMITS, namespace_caps=CAPS)
        self.jobs: dict[str, Job] = {}
        self.workers: dict[str, SimWorker] = {}
        self.history: list[WorkerCredit] = []
        self.ids = itertools.count(1)
        for capacity in capacities:
            self.spawn(capacity)

    # -- the state processor's side --------------------------------------------------------

    def ready(self, job_id: str) -> JobReady:
        job = self.jobs[job_id]
        return JobReady(job_id=job_id, execution_id=f"{job_id}.{job.attempt}", attempt=job.attempt,
                        queue=job.spec.queue, priority=job.spec.priority, spec=job.spec, enqueued_at=self.now,
                        namespace=job.namespace)

    def requeue(self, job_id: str, attempt: int) -> None:
        """A return or a loss of the current lease: the next attempt is offered."""
        job = self.jobs[job_id]
        if job.attempt == attempt and not job.done:
            job.attempt, job.holder = attempt + 1, None
            self.board.add(self.ready(job_id))

    # -- steps ---------------------------------------------------------------------------

    def spawn(self, capacity: WorkerCapacity, worker_id: str | None = None) -> None:
        worker_id = worker_id or f"w{next(self.ids)}"
        self.workers[worker_id] = SimWorker(worker_id, capacity, incarnation=next(self.ids))

    def submit(self, pick: int) -> None:
        job_id = f"j{next(self.ids)}"
        self.jobs[job_id] = Job(spec(queue=QUEUES[pick % 2], requirements=NEEDS[pick % len(NEEDS)]),
                                NAMESPACES[pick // 2 % 2])
        self.board.add(self.ready(job_id))

    def issue_credits(self, pick: int) -> None:
        """A heartbeat's credits, reaching the board in order (the dispatch partition)."""
        worker = self.pick_worker(pick)
        if worker is not None:
            self.send(worker.credits(self.now))

    def send(self, credits: list[WorkerCredit]) -> None:
        self.history += credits
        for credit in credits:
            self.board.offer(credit)

    def redeliver(self, pick: int) -> None:
        """Any credit ever issued, again: a repeat, or a stale one overtaking newer ones."""
        if self.history:
            self.board.offer(self.history[-1 - pick % len(self.history)])

    def match(self) -> None:
        for match in self.board.match(self.now):
            job = self.jobs[match.job.job_id]
            if job.attempt == match.job.attempt and job.holder is None and not job.done:
                job.holder = match.worker_id  # the AssignJob records the lease
            worker = self.workers.get(match.worker_id)
            if worker is not None:
                worker.inbox.append(Sent(match.job.job_id, match.job.execution_id, match.job.attempt, match.job.spec,
                                         match.job.namespace))

    def receive(self, pick: int) -> None:
        worker = self.pick_worker(pick)
        if worker is None or not worker.inbox:
            return
        sent = worker.inbox.popleft()
        worker.received[sent.spec.queue] += 1
        if sent.execution_id in worker.seen:
            return
        worker.seen.add(sent.execution_id)
        running = [s.spec.requirements for s in worker.running.values()]
        if refusal(worker.capacity, running, sent.spec) is not None:
            self.requeue(sent.job_id, sent.attempt)  # ReturnAssignment
            self.send(worker.credits(self.now))
            return
        job = self.jobs[sent.job_id]
        if job.attempt != sent.attempt or job.holder not in (None, worker.worker_id) or job.done:
            return  # the state processor rejects the start and stops it at once
        job.holder = worker.worker_id
        worker.running[sent.execution_id] = sent

    def finish(self, pick: int) -> None:
        worker = self.pick_worker(pick)
        if worker is None or not worker.running:
            return
        sent = worker.running.pop(sorted(worker.running)[pick % len(worker.running)])
        job = self.jobs[sent.job_id]
        if job.attempt == sent.attempt and job.holder == worker.worker_id:
            job.done += 1
        self.send(worker.credits(self.now))

    def lose(self, pick: int) -> None:
        """A worker dies: the monitor declares it lost, its leases end, a new worker takes its place."""
        worker = self.pick_worker(pick)
        if worker is None:
            return
        del self.workers[worker.worker_id]
        self.board.forget_worker(worker.worker_id, self.now)
        for sent in [*worker.running.values(), *worker.inbox]:
            self.requeue(sent.job_id, sent.attempt)
        self.spawn(worker.capacity)

    def restart_worker(self, pick: int) -> None:
        """The same worker id, a new process: what the old one held runs again."""
        worker = self.pick_worker(pick)
        if worker is None:
            return
        for sent in [*worker.running.values(), *worker.inbox]:
            self.requeue(sent.job_id, sent.attempt)
        self.spawn(worker.capacity, worker.worker_id)

    def restart_dispatcher(self, pick: int) -> None:
        """A new board from the ready table, which may still hold what was assigned just before."""
        board = DispatchBoard(queue_limits=LIMITS, namespace_caps=CAPS)
        board._gone = dict(self.board._gone)  # departures are read again from the workers topic
        readies = [self.ready(job_id) for job_id, job in self.jobs.items() if not job.done
                   and (job.holder is None or pick % 3 == 0)]
        board.reset(readies)
        for credit in self.history[-1 - pick:]:  # read again from the dispatch topic: counted, not placed
            board.offer(credit, live=False)
        self.board = board

    def advance(self, pick: int) -> None:
        self.now += timedelta(seconds=pick % 4)

    def pick_worker(self, pick: int) -> SimWorker | None:
        workers = sorted(self.workers)
        return self.workers[workers[pick % len(workers)]] if workers else None

    # -- checks --------------------------------------------------------------------------

    def check_workers_hold_their_capacity(self) -> None:
        for worker in self.workers.values():
            needs = [s.spec.requirements or Requirements() for s in worker.running.values()]
            assert len(needs) <= worker.capacity.slots
            assert sum(n.cpu for n in needs) <= worker.capacity.cpu + 1e-9
            assert sum(n.memory_mb for n in needs) <= worker.capacity.memory_mb

    def check_the_board_never_oversends(self) -> None:
        """Slots in all; cpu and memory per queue (a worker offers them whole to each of its
        queues, and turns away what two queues' assignments together exceed)."""
        per_queue, per_namespace = {q: 0 for q in QUEUES}, {n: 0 for n in NAMESPACES}
        for worker in self.workers.values():
            in_flight = [*worker.running.values(), *worker.inbox]
            assert len(in_flight) <= worker.capacity.slots, (worker.worker_id, len(in_flight))
            for queue in QUEUES:
                needs = [s.spec.requirements or Requirements() for s in in_flight if s.spec.queue == queue]
                assert sum(n.cpu for n in needs) <= worker.capacity.cpu + 1e-9
                assert sum(n.memory_mb for n in needs) <= worker.capacity.memory_mb
            for sent in in_flight:
                per_queue[sent.spec.queue] += 1
                per_namespace[sent.namespace] += 1
        for queue, limit in LIMITS.items():
            assert per_queue[queue] <= limit, (queue, per_queue[queue])
        for namespace, cap in CAPS.items():
            assert per_namespace[namespace] <= cap, (namespace, per_namespace[namespace])

    def quiesce(self) -> None:
        """Fresh credits from everyone until every job is done: nothing was lost on the way."""
        for _ in range(10 * len(self.jobs) + 10):
            if all(job.done for job in self.jobs.values()):
                break
            self.now += timedelta(seconds=0.5)
            for worker in list(self.workers.values()):
                self.send(worker.credits(self.now))
            self.match()
            for worker_id in sorted(self.workers):
                worker = self.workers[worker_id]
                while worker.inbox:
                    self.receive(sorted(self.workers).index(worker_id))
                while worker.running:
                    self.finish(sorted(self.workers).index(worker_id))
        assert [job_id for job_id, job in self.jobs.items() if job.done != 1] == []


STEPS = ["submit", "issue_credits", "redeliver", "receive", "finish", "lose", "advance"]
RESTARTS = ["restart_dispatcher", "restart_worker"]


def run(world: World, steps: list[tuple[str, int]], check_board: bool) -> None:
    for name, pick in steps:
        getattr(world, name)(pick)
        world.match()  # the dispatcher matches after every message it reads
        world.check_workers_hold_their_capacity()
        if check_board:
            world.check_the_board_never_oversends()
    world.quiesce()
    world.check_workers_hold_their_capacity()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 7)), max_size=80))
def test_one_dispatcher_never_sends_a_worker_or_queue_more_than_it_has_room_for(steps: list[tuple[str, int]]) -> None:
    run(World(ONE_QUEUE), steps, check_board=True)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STEPS + RESTARTS), st.integers(0, 7)), max_size=80))
def test_with_restarts_workers_still_hold_their_capacity_and_no_job_is_lost(steps: list[tuple[str, int]]) -> None:
    run(World(SEVERAL_QUEUES), steps, check_board=False)
