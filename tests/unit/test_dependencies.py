"""Dependencies between jobs, through decide and the follow-up commands jobs send each other."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.dependencies import UPSTREAM_RESULTS_MAX_BYTES, condition_holds
from jobstream.core.state import fold
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    CancelJob,
    CommandRejected,
    Dependency,
    DependencyCondition,
    JobCancelled,
    JobQueued,
    JobReady,
    Outcome,
    UpstreamSettled,
)
from jobstream.streams.side_effects import messages
from tests.unit.builders import command, spec
from tests.unit.world import World

COMPLETED = DependencyCondition.COMPLETED


def after(*upstreams: str, condition: DependencyCondition = DependencyCondition.SUCCEEDED):  # type: ignore[no-untyped-def]
    return spec(depends_on=[Dependency(job_id=u, condition=condition) for u in upstreams])


def diamond(world: World, condition: DependencyCondition = DependencyCondition.SUCCEEDED) -> None:
    world.submit("A", spec())
    world.submit("B", after("A"))
    world.submit("C", after("A"))
    world.submit("D", after("B", "C", condition=condition))


def test_a_diamond_runs_a_first_and_d_only_after_both() -> None:
    world = World()
    diamond(world)
    assert [world.status(j) for j in "ABCD"] == ["queued", "pending", "pending", "pending"]
    world.run("A")
    assert [world.status(j) for j in "BCD"] == ["queued", "queued", "pending"]
    world.run("B")
    assert world.status("D") == "pending" and world.state("D").waiting_on == ("C",)
    world.run("C")
    assert world.status("D") == "queued"
    settled = [e for e in world.history["D"] if isinstance(e, UpstreamSettled)]
    assert [(e.upstream_job_id, e.satisfied) for e in settled] == [("B", True), ("C", True)]


def test_a_failing_b_cancels_d_as_upstream_failed_but_not_c() -> None:
    world = World()
    diamond(world)
    world.run("A")
    world.run("B", Outcome.FAILED)
    assert world.status("D") == "cancelled" and world.status("C") == "queued"
    [cancelled] = [e for e in world.history["D"] if isinstance(e, JobCancelled)]
    assert cancelled.reason.startswith("upstream_failed") and "B" in cancelled.reason
    world.run("C")
    assert world.status("D") == "cancelled", "a later success does not revive it"


def test_with_condition_completed_d_runs_after_b_failed() -> None:
    world = World()
    diamond(world, condition=COMPLETED)
    world.run("A")
    world.run("B", Outcome.FAILED)
    world.run("C")
    assert world.status("D") == "queued"


def test_cancellation_travels_down_a_chain() -> None:
    world = World()
    for job, upstream in (("A", None), ("B", "A"), ("C", "B"), ("D", "C")):
        world.submit(job, spec() if upstream is None else after(upstream))
    world.send(command(CancelJob, job_id="A"))
    assert [world.status(j) for j in "ABCD"] == ["cancelled"] * 4


def test_depending_on_a_finished_job_answers_at_once() -> None:
    world = World()
    world.submit("A", spec())
    world.run("A")
    world.submit("B", after("A"))
    assert world.status("B") == "queued"


def test_a_dependent_whose_upstream_is_submitted_later_waits_for_it() -> None:
    # Commands of different partitions are not ordered: the registration may come first
    world = World()
    world.submit("B", after("A"))
    assert world.status("B") == "pending" and world.state("A").dependents == ("B",)
    assert not world.state("A").exists
    world.submit("A", spec())
    assert world.state("A").dependents == ("B",) and world.status("B") == "pending"
    world.run("A")
    assert world.status("B") == "queued"


def test_a_job_cannot_depend_on_itself_nor_combine_dependencies_with_a_schedule() -> None:
    from jobstream.schemas import Schedule

    world = World()
    [rejected] = world.submit("A", after("A"))
    assert isinstance(rejected, CommandRejected) and "itself" in rejected.reason
    [rejected] = world.submit("B", spec(depends_on=[Dependency(job_id="X")], schedule=Schedule(every_s=60)))
    assert isinstance(rejected, CommandRejected) and "schedule" in rejected.reason


def test_wide_fan_out_and_fan_in() -> None:
    world = World()
    world.submit("root", spec())
    middle = [f"m{i}" for i in range(300)]
    for job in middle:
        world.submit(job, after("root"))
    world.submit("sink", after(*middle))
    world.run("root")
    assert all(world.status(job) == "queued" for job in middle)
    for job in middle:
        world.run(job)
    assert world.status("sink") == "queued"


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 9), st.data())
def test_any_dag_any_delivery_order_with_duplicates_ends_as_the_reference_says(size: int, data: st.DataObject) -> None:
    """Random DAG, random outcomes, follow-ups shuffled and duplicated: each job ends as a plain
    reference evaluation of the graph says, and every job's events still fold to its state."""
    upstreams = {j: sorted(data.draw(st.sets(st.integers(0, j - 1), max_size=3)) if j else []) for j in range(size)}
    conditions = {j: data.draw(st.sampled_from(list(DependencyCondition))) for j in range(size)}
    fails = {j: data.draw(st.booleans()) for j in range(size)}
    world = World(rng=random.Random(data.draw(st.integers(0, 10**6))), duplicate=True)
    for j in range(size):
        world.submit(f"j{j}", after(*(f"j{u}" for u in upstreams[j]), condition=conditions[j]))
    for _ in range(size):  # run whatever is queued, until nothing is
        for j in range(size):
            if world.status(f"j{j}") == "queued":
                world.run(f"j{j}", Outcome.FAILED if fails[j] else Outcome.SUCCEEDED)
    expected: dict[int, str] = {}
    for j in range(size):
        ok = all(condition_holds(conditions[j], expected[u]) for u in upstreams[j])
        expected[j] = ("failed" if fails[j] else "completed") if ok else "cancelled"
    assert {j: world.status(f"j{j}") for j in range(size)} == expected
    for job_id, events in world.history.items():
        if world.state(job_id).exists:
            assert fold(job_id, events) == world.state(job_id)
        assert sum(isinstance(e, JobQueued) for e in events) <= 1


def test_a_chain_hands_each_result_down_and_the_ready_work_carries_them() -> None:
    # Given a chain A -> B -> C
    world = World()
    world.submit("A", spec())
    world.submit("B", after("A"))
    world.submit("C", after("B"))

    # When A returns 1 and B returns 2
    world.run("A", result_json="1")
    world.run("B", result_json='{"n": 2}')

    # Then each dependent holds its own upstream's result, and its queued work carries it to the worker
    assert world.state("B").spec.upstream_results == {"A": "1"}  # type: ignore[union-attr]
    assert world.state("C").spec.upstream_results == {"B": '{"n": 2}'}  # type: ignore[union-attr]
    before = world.state("C")
    assert [e.upstream_result_json for e in world.history["C"] if isinstance(e, UpstreamSettled)] == ['{"n": 2}']
    [ready] = [r for _, _, r in messages(Topics("t"), before, before, [queued(world, "C")]) if isinstance(r, JobReady)]
    assert ready.spec.upstream_results == {"B": '{"n": 2}'}


def test_results_past_the_jobs_bound_are_kept_as_a_reference_to_their_job() -> None:
    # Given D after three upstreams whose results together pass the bound
    world = World()
    for upstream in "ABC":
        world.submit(upstream, spec())
    world.submit("D", after("A", "B", "C"))
    big = json.dumps("x" * (UPSTREAM_RESULTS_MAX_BYTES // 2 - 10))

    # When each returns a result of half the bound
    for upstream in "ABC":
        world.run(upstream, result_json=big)

    # Then the first two are kept whole, the third as a marker naming the job that has it
    kept = world.state("D").spec.upstream_results  # type: ignore[union-attr]
    assert kept["A"] == kept["B"] == big
    assert json.loads(kept["C"]) == {"ref": "job", "job_id": "C", "bytes": len(big)}
    assert world.status("D") == "queued"


def test_a_failed_upstream_hands_no_result_and_a_submission_cannot_carry_any() -> None:
    world = World()
    world.submit("A", spec())
    world.submit("B", after("A", condition=COMPLETED))
    world.run("A", Outcome.FAILED)
    assert world.state("B").spec.upstream_results == {}  # type: ignore[union-attr]

    [rejected] = world.submit("E", spec(upstream_results={"A": "1"}))
    assert isinstance(rejected, CommandRejected) and "upstream_results" in rejected.reason


def queued(world: World, job_id: str) -> JobQueued:
    return next(e for e in reversed(world.history[job_id]) if isinstance(e, JobQueued))
