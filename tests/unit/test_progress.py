"""The long commands' progress bar: on stderr only, and its total may be learnt as it goes."""

from __future__ import annotations

import pytest

from jobstream.progress import progress_bar


def test_the_bar_writes_nothing_on_stdout_and_takes_a_late_total(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("replaying", "messages") as update:
        update(0, None)
        update(5, 10)
        update(10, 10)
    assert capsys.readouterr().out == ""
