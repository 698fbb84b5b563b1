"""``resolve_batch``: refs become job ids, the order is topological, and every mistake is named."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.dag import BatchJob, ResolvedBatch, Upstream, resolve_batch
from jobstream.core.ids import job_id_for_idempotency_key
from jobstream.core.validation import Problem
from jobstream.schemas import Dependency, JobSpec, ShellTask
from jobstream.schemas.common import DependencyCondition

COMPLETED = DependencyCondition.COMPLETED


def job(ref: str | None = None, *upstreams: str | Upstream, key: str | None = None) -> BatchJob:
    deps = tuple(Upstream(ref=u) if isinstance(u, str) else u for u in upstreams)
    spec = JobSpec(name=ref or "job", task=ShellTask(argv=["true"]), idempotency_key=key)
    return BatchJob(spec=spec, ref=ref, depends_on=deps)


def resolve(jobs: list[BatchJob]) -> ResolvedBatch | list[Problem]:
    """Ids are "id-<index>", or the idempotency key's id, as the API assigns them."""
    return resolve_batch(jobs, lambda i, spec: job_id_for_idempotency_key(spec.idempotency_key)
                         if spec.idempotency_key else f"id-{i}")


def accepted(jobs: list[BatchJob]) -> ResolvedBatch:
    result = resolve(jobs)
    assert isinstance(result, ResolvedBatch), result
    return result


def rejected(jobs: list[BatchJob]) -> list[Problem]:
    result = resolve(jobs)
    assert isinstance(result, list), result
    return result


def assert_topological(batch: ResolvedBatch) -> None:
    seen: set[str] = set()
    batch_ids = {j.job_id for j in batch.jobs}
    for resolved in batch.jobs:
        for dep in resolved.spec.depends_on:
            assert dep.job_id not in batch_ids or dep.job_id in seen, f"{resolved.ref} before its upstream"
        seen.add(resolved.job_id)


# ---------------------------------------------------------------- accepted batches
def test_a_diamond_resolves_refs_to_ids_upstreams_first() -> None:
    # Given d after b and c, which both follow a, listed dependents first
    jobs = [job("d", "b", Upstream(ref="c", condition=COMPLETED)), job("b", "a"), job("c", "a"), job("a")]

    batch = accepted(jobs)

    assert batch.refs == {"d": "id-0", "b": "id-1", "c": "id-2", "a": "id-3"}
    assert [j.ref for j in batch.jobs] == ["a", "b", "c", "d"]
    d = batch.jobs[-1]
    assert d.index == 0 and d.job_id == "id-0"
    assert d.spec.depends_on == [Dependency(job_id="id-1"), Dependency(job_id="id-2", condition=COMPLETED)]
    assert_topological(batch)


def test_existing_jobs_and_jobs_without_ref_pass_through_in_batch_order() -> None:
    batch = accepted([job(None, Upstream(job_id="old-1")), job(None), job("x", Upstream(job_id="old-2"))])
    assert [j.index for j in batch.jobs] == [0, 1, 2]
    assert batch.jobs[0].spec.depends_on == [Dependency(job_id="old-1")]
    assert batch.refs == {"x": "id-2"}


def test_a_job_id_of_a_keyed_job_in_the_same_batch_orders_it_too() -> None:
    upstream_id = job_id_for_idempotency_key("k")
    batch = accepted([job(None, Upstream(job_id=upstream_id)), job(None, key="k")])
    assert [j.index for j in batch.jobs] == [1, 0]


def test_a_chain_of_ten_thousand_needs_no_recursion() -> None:
    n = 10_000
    jobs = [job(f"n{i}", *([f"n{i + 1}"] if i + 1 < n else [])) for i in range(n)]
    batch = accepted(jobs)
    assert [j.ref for j in batch.jobs] == [f"n{i}" for i in reversed(range(n))]


# ---------------------------------------------------------------- rejected batches
def test_duplicate_unknown_and_self_refs_are_named_with_their_path() -> None:
    problems = rejected([job("a"), job("a"), job("b", "nope"), job("c", "c")])
    assert ("jobs[1].ref", "duplicate ref 'a' (also jobs[0].ref)") in problems
    assert ("jobs[2].depends_on[0].ref", "unknown ref 'nope': no job of the batch has it") in problems
    assert ("jobs[3].depends_on[0].ref", "a job cannot depend on itself") in problems
    assert len(problems) == 3


def test_a_repeated_upstream_and_a_dependency_naming_both_or_neither_are_refused() -> None:
    problems = rejected([job("a"), job("b", "a", "a"), job("c", Upstream(ref="a", job_id="x"), Upstream())])
    assert [field for field, _ in problems] == ["jobs[1].depends_on[1]", "jobs[2].depends_on[0]",
                                                "jobs[2].depends_on[1]"]


def test_two_jobs_with_the_same_idempotency_key_are_refused() -> None:
    assert [f for f, _ in rejected([job(None, key="k"), job(None, key="k")])] == ["jobs[1].idempotency_key"]


def test_a_cycle_is_named_by_its_refs_and_the_edge_that_closes_it() -> None:
    # Given a -> b -> c -> a ("depends on"), plus a job outside the cycle
    problems = rejected([job("z"), job("a", "z", "b"), job("b", "c"), job("c", "a")])
    assert problems == [("jobs[1].depends_on[1].ref", "dependency cycle: a -> b -> c -> a (each depends on the next)")]


def test_a_cycle_through_ten_thousand_jobs_is_found_iteratively() -> None:
    n = 10_000
    jobs = [job(f"n{i}", f"n{(i + 1) % n}") for i in range(n)]
    [(field, detail)] = rejected(jobs)
    assert field == "jobs[0].depends_on[0].ref"
    assert detail.startswith("dependency cycle: n0 -> n1 -> n2") and detail.count("->") == n


# ---------------------------------------------------------------- properties
@st.composite
def dags(draw: st.DrawFn) -> tuple[list[BatchJob], list[set[int]]]:
    """A random DAG (node i depends only on nodes of lower number), listed in a random order."""
    n = draw(st.integers(1, 40))
    ups = [draw(st.sets(st.integers(0, i - 1), max_size=4)) if i else set() for i in range(n)]
    order = draw(st.permutations(range(n)))
    jobs = [job(f"r{i}", *(f"r{u}" for u in sorted(ups[i]))) for i in order]
    return jobs, ups


def _reachable(ups: list[set[int]], start: int) -> set[int]:
    seen: set[int] = set()
    todo = [start]
    while todo:
        for up in ups[todo.pop()] - seen:
            seen.add(up)
            todo.append(up)
    return seen


@settings(max_examples=200, deadline=None)
@given(dags())
def test_any_dag_is_accepted_in_topological_order(dag: tuple[list[BatchJob], list[set[int]]]) -> None:
    jobs, _ = dag
    batch = accepted(jobs)
    assert sorted(j.index for j in batch.jobs) == list(range(len(jobs)))
    assert_topological(batch)


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_a_back_edge_is_rejected_naming_a_cycle_through_it(dag: tuple[list[BatchJob], list[set[int]]],
                                                           data: st.DataObject) -> None:
    jobs, ups = dag
    candidates = [(a, b) for a in range(len(ups)) for b in _reachable(ups, a)]
    if not candidates:
        return
    a, b = data.draw(st.sampled_from(candidates))  # a depends on b, transitively
    # When b is made to depend on a
    jobs = [job(j.ref, *j.depends_on, f"r{a}") if j.ref == f"r{b}" else j for j in jobs]

    [(field, detail)] = rejected(jobs)
    names = detail.removeprefix("dependency cycle: ").removesuffix(" (each depends on the next)").split(" -> ")
    assert names[0] == names[-1] and f"r{a}" in names and f"r{b}" in names
    edges = {(f"r{i}", f"r{u}") for i, us in enumerate(ups) for u in us} | {(f"r{b}", f"r{a}")}
    assert all(pair in edges for pair in zip(names, names[1:], strict=False))
    assert field.startswith("jobs[") and field.endswith(".ref")
