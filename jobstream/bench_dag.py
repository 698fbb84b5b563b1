"""`jobstream bench dag`: a layered DAG from submit to its last node done, beside its critical path.

It starts a state processor, a dispatcher and workers on a fresh topic prefix, submits a DAG of
``nodes`` shell jobs (``true``) in ``layers`` layers, each node depending on up to ``fan_in``
nodes of the layer before, and reads the events topic until every node is done. It reports:

- the wall time from the first submit to the last node done;
- the critical path's own length: the longest chain of the nodes' own run times (duration_ms);
- what the scheduler adds per layer: (wall time - critical path) / layers;
- the hand-off: for each node, from its last upstream's completion to its own start.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobstream.bench import EventWatch, bench_stack, percentiles
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.schemas import (
    Dependency,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobSpec,
    JobStarted,
    ShellTask,
    SubmitJob,
)
from jobstream.streams.kafka_io import Publisher, command_envelope


def layered_dag(nodes: int, layers: int, fan_in: int, seed: int = 7) -> list[list[tuple[str, list[str]]]]:
    """``layers`` layers of (job_id, upstream ids); every node past the first layer has 1..fan_in upstreams."""
    rng = random.Random(seed)
    width = max(nodes // layers, 1)
    dag: list[list[tuple[str, list[str]]]] = []
    for layer in range(layers):
        previous = [job_id for job_id, _ in dag[-1]] if dag else []
        count = width if layer < layers - 1 else nodes - width * (layers - 1)
        dag.append([(new_job_id(), rng.sample(previous, min(len(previous), rng.randint(1, fan_in))) if previous else [])
                    for _ in range(count)])
    return dag


@dataclass
class NodeTimes:
    upstreams: list[str]
    started: datetime | None = None
    finished: datetime | None = None
    duration_ms: float = 0.0
    status: str = ""


@dataclass
class DagRun:
    nodes: dict[str, NodeTimes] = field(default_factory=dict)
    first_sent: float = 0.0


def run_dag_bench(base: Settings, nodes: int, layers: int, fan_in: int, workers: int, slots: int,
                  timeout_s: float, keep: bool = False) -> dict[str, Any]:
    with bench_stack(base, "dag", workers, slots, keep) as stack:
        dag = layered_dag(nodes, layers, fan_in)
        run = _submit(stack.publisher, dag)
        watch = EventWatch(stack.settings)
        try:
            watch.until_done(lambda event, remaining: _record(event, run, remaining), set(run.nodes), timeout_s,
                             what="DAG nodes")
        finally:
            watch.close()
        return {"broker_raw_produce_msgs_per_s": stack.raw_produce_msgs_per_s, **summarise(dag, run)}


def _submit(publisher: Publisher, dag: list[list[tuple[str, list[str]]]]) -> DagRun:
    run = DagRun(first_sent=time.time())
    for layer in dag:
        for job_id, upstreams in layer:
            spec = JobSpec(name="dag", task=ShellTask(argv=["true"]),
                           depends_on=[Dependency(job_id=upstream) for upstream in upstreams])
            publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "bench"), spec=spec))
            run.nodes[job_id] = NodeTimes(upstreams)
            publisher.poll(0)
    publisher.flush(60)
    return run


def _record(event: Any, run: DagRun, remaining: set[str]) -> None:
    node = run.nodes.get(event.envelope.job_id)
    if node is None:
        return
    if isinstance(event, JobStarted):
        node.started = event.envelope.occurred_at
    elif isinstance(event, JobCompleted | JobFailed | JobCancelled):
        node.finished = event.envelope.occurred_at
        node.duration_ms = float(getattr(event, "duration_ms", None) or 0)
        node.status = event.envelope.type
        remaining.discard(event.envelope.job_id)


def summarise(dag: list[list[tuple[str, list[str]]]], run: DagRun) -> dict[str, Any]:
    nodes = run.nodes
    own: dict[str, float] = {}  # the longest chain of own run times ending with each node
    for layer in dag:
        for job_id, upstreams in layer:
            own[job_id] = nodes[job_id].duration_ms + max((own[u] for u in upstreams), default=0.0)
    critical_ms = max(own.values())
    last_done = max(n.finished for n in nodes.values() if n.finished).timestamp()
    wall_ms = (last_done - run.first_sent) * 1000
    handoffs = [(n.started - max(nodes[u].finished for u in n.upstreams)).total_seconds() * 1000  # type: ignore
                for n in nodes.values() if n.upstreams and n.started]
    return {
        "nodes": len(nodes), "layers": len(dag),
        "not_completed": sum(n.status != "JobCompleted" for n in nodes.values()),
        "wall_ms": round(wall_ms), "critical_path_own_ms": round(critical_ms),
        "scheduler_added_ms_per_layer": round((wall_ms - critical_ms) / len(dag), 1),
        "handoff_upstream_done_to_started_ms": percentiles(handoffs),
    }
