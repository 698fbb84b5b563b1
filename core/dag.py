"""A batch of jobs that name each other by client-side ``ref``: checked, given ids, ordered.

Pure: ids come from the ``job_id_for`` the caller passes in. Problems are (field, detail) pairs
naming the job by its index in the batch (``jobs[3].depends_on[0].ref``), as the API answers
them. Every algorithm is iterative, so a chain of 10,000 jobs needs no recursion.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from jobstream.core.validation import Problem
from jobstream.schemas import Dependency, JobSpec
from jobstream.schemas.common import DependencyCondition


@dataclass(frozen=True, slots=True)
class Upstream:
    """A dependency as the client wrote it: a job of the same batch (``ref``) or an existing one."""

    ref: str | None = None
    job_id: str | None = None
    condition: DependencyCondition = DependencyCondition.SUCCEEDED


@dataclass(frozen=True, slots=True)
class BatchJob:
    spec: JobSpec  # its own depends_on is ignored: ``depends_on`` here is what counts
    ref: str | None = None
    depends_on: tuple[Upstream, ...] = ()


@dataclass(frozen=True, slots=True)
class ResolvedJob:
    index: int  # position in the request
    ref: str | None
    job_id: str
    spec: JobSpec  # depends_on names job ids only


@dataclass(frozen=True, slots=True)
class ResolvedBatch:
    jobs: tuple[ResolvedJob, ...]  # topological order: every upstream before its dependents
    refs: dict[str, str]  # ref -> job_id


def resolve_batch(jobs: Sequence[BatchJob],
                  job_id_for: Callable[[int, JobSpec], str]) -> ResolvedBatch | list[Problem]:
    """The batch with ids assigned and refs resolved, in topological order; or its problems."""
    problems: list[Problem] = []
    by_ref = _index_refs(jobs, problems)
    ids = [job_id_for(i, job.spec) for i, job in enumerate(jobs)]
    by_id = _index_ids(ids, jobs, problems)
    upstreams = [_upstreams(i, job, by_ref, by_id, problems) for i, job in enumerate(jobs)]
    if problems:
        return problems
    order = _topological(upstreams)
    if len(order) < len(jobs):
        return [_cycle_problem(jobs, upstreams, set(range(len(jobs))) - set(order))]
    resolved = tuple(_resolved(i, jobs[i], ids, upstreams[i]) for i in order)
    return ResolvedBatch(jobs=resolved, refs={ref: ids[i] for ref, i in by_ref.items()})


def _index_refs(jobs: Sequence[BatchJob], problems: list[Problem]) -> dict[str, int]:
    by_ref: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if job.ref is None:
            continue
        if job.ref in by_ref:
            problems.append((f"jobs[{i}].ref", f"duplicate ref {job.ref!r} (also jobs[{by_ref[job.ref]}].ref)"))
        else:
            by_ref[job.ref] = i
    return by_ref


def _index_ids(ids: list[str], jobs: Sequence[BatchJob], problems: list[Problem]) -> dict[str, int]:
    by_id: dict[str, int] = {}
    for i, job_id in enumerate(ids):
        if job_id in by_id:  # only idempotency keys make ids collide
            problems.append((f"jobs[{i}].idempotency_key",
                             f"names the same job as jobs[{by_id[job_id]}] ({jobs[i].spec.idempotency_key!r})"))
        else:
            by_id[job_id] = i
    return by_id


def _upstreams(i: int, job: BatchJob, by_ref: dict[str, int], by_id: dict[str, int],
               problems: list[Problem]) -> list[tuple[int | None, int]]:
    """(index of the upstream in the batch, or None for a job outside it; position in depends_on)."""
    out: list[tuple[int | None, int]] = []
    seen: dict[str, int] = {}
    for k, up in enumerate(job.depends_on):
        where = f"jobs[{i}].depends_on[{k}]"
        if (up.ref is None) == (up.job_id is None):
            problems.append((where, "must name exactly one of ref and job_id"))
            continue
        target = by_ref.get(up.ref) if up.ref is not None else by_id.get(up.job_id or "")
        if up.ref is not None and target is None:
            problems.append((f"{where}.ref", f"unknown ref {up.ref!r}: no job of the batch has it"))
            continue
        if target == i:
            problems.append((f"{where}.{'ref' if up.ref is not None else 'job_id'}", "a job cannot depend on itself"))
            continue
        key = f"#{target}" if target is not None else f"id:{up.job_id}"
        if key in seen:
            problems.append((where, f"names the same upstream as depends_on[{seen[key]}]"))
            continue
        seen[key] = k
        out.append((target, k))
    return out


def _topological(upstreams: list[list[tuple[int | None, int]]]) -> list[int]:
    """Kahn's algorithm, stable (batch order among the ready); cyclic jobs are left out."""
    waiting = [sum(1 for target, _ in ups if target is not None) for ups in upstreams]
    dependents: list[list[int]] = [[] for _ in upstreams]
    for i, ups in enumerate(upstreams):
        for target, _ in ups:
            if target is not None:
                dependents[target].append(i)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    order: list[int] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for dependent in dependents[node]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    return order


def _cycle_problem(jobs: Sequence[BatchJob], upstreams: list[list[tuple[int | None, int]]],
                   stuck: set[int]) -> Problem:
    """One cycle among the jobs Kahn could not order. Each of them waits on another stuck job,
    so walking "depends on" edges inside the stuck set must come back to a job already seen."""
    node, path, position = min(stuck), list[int](), dict[int, int]()
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = next(target for target, _ in upstreams[node] if target in stuck)
    cycle = path[position[node]:] + [node]
    first, second = cycle[0], cycle[1]
    k = next(k for target, k in upstreams[first] if target == second)
    kind = "ref" if jobs[first].depends_on[k].ref is not None else "job_id"
    names = " -> ".join(jobs[n].ref or f"jobs[{n}]" for n in cycle)
    return f"jobs[{first}].depends_on[{k}].{kind}", f"dependency cycle: {names} (each depends on the next)"


def _resolved(i: int, job: BatchJob, ids: list[str], upstreams: list[tuple[int | None, int]]) -> ResolvedJob:
    depends_on = []
    for target, k in upstreams:
        up = job.depends_on[k]
        job_id = ids[target] if target is not None else up.job_id
        assert job_id is not None
        depends_on.append(Dependency(job_id=job_id, condition=up.condition))
    return ResolvedJob(index=i, ref=job.ref, job_id=ids[i], spec=replace(job.spec, depends_on=depends_on))
