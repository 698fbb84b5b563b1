import gc
import weakref
from collections.abc import Iterator

import pytest

from jobstream.gc_tuning import YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_young_generation_is_collected_less_often_and_startup_objects_are_frozen(collector: None) -> None:
    middle, oldest = gc.get_threshold()[1:]
    startup_object = Cycle()  # tracked by the collector until frozen
    tune_gc()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)
    assert gc.get_freeze_count() > 0
    assert not any(obj is startup_object for obj in gc.get_objects())  # frozen: out of every generation


class Cycle:
    def __init__(self) -> None:
        self.itself = self


def test_cyclic_garbage_is_still_collected_without_being_asked(collector: None) -> None:
    tune_gc()
    collected: list[bool] = []
    cycle = Cycle()
    weakref.finalize(cycle, collected.append, True)
    del cycle
    # tracked allocations, kept alive: the young generation fills up and is collected
    kept: list[list[int]] = [[] for _ in range(2 * YOUNG_THRESHOLD)]
    assert collected == [True]
    assert kept
