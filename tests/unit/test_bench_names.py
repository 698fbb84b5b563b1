"""Which broker names belong to a bench run, and to benches at all: what clean-up deletes."""

from jobstream.bench_cleanup import new_prefix, of_any_bench, of_run, prefix_of
from jobstream.infra.topics import Topics


def test_a_run_owns_its_topics_and_groups_and_nothing_of_another_run() -> None:
    prefix = new_prefix("e2e")
    topics = [spec.name for spec in Topics(prefix).specs(3)]
    mine = of_run(prefix)
    assert all(mine(name) for name in topics + [f"{prefix}.state-processor", f"{prefix}.events-reader-0a1b2c3d"])
    assert not mine(f"{prefix}x.events")  # a longer prefix is another run
    assert not mine(f"{new_prefix('e2e')}.events")
    assert all(prefix_of(name) == prefix for name in topics)


def test_every_kind_of_bench_prefix_is_recognised_and_jobstreams_own_topics_are_not() -> None:
    for kind in ("e2e", "dispatch", "dag", "timers", "failover", "projector"):
        assert of_any_bench(f"{new_prefix(kind)}.events")
    # What runs left before their groups carried the prefix, and the projector bench's prefix.
    assert of_any_bench("bench-1a2b3c4d.events")
    assert of_any_bench("bench-timers-1a2b3c4d")
    assert of_any_bench("jobstream-bench-1a2b3c4d.events")
    for name in ("jobstream.events", "jobstream.state-processor", "jobstream-t0123456789ab.events",
                 "mybench.events", "bench-notahex1.events", "bench-1a2b3c4d5.events", "__consumer_offsets"):
        assert not of_any_bench(name), name
