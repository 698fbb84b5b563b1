"""Chunking, bounds, progress lines and result placement: the pure parts of executions' output."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from jobstream.worker.executors.output import (
    ExecutionOutput,
    LineScanner,
    LogChunker,
    OutputOptions,
    Piece,
    ProgressThrottle,
    clean_text,
)
from jobstream.worker.executors.results import place_result
from jobstream.worker.progress import Progress, format_line, parse_line, report

SMALL = OutputOptions(max_bytes=1000, chunk_bytes=100, flush_s=0.15, progress_every_s=1.0)


def test_small_output_waits_for_its_flush_interval() -> None:
    chunker = LogChunker(SMALL)
    assert chunker.feed("stdout", b"hello\n", now=10.0) == []
    assert chunker.due(now=10.1) == []
    assert chunker.due(now=10.15) == [Piece("stdout", "hello\n")]
    assert chunker.due(now=11.0) == []


def test_a_full_chunk_is_cut_at_its_last_line_end() -> None:
    chunker = LogChunker(SMALL)
    pieces = chunker.feed("stdout", b"a" * 60 + b"\n" + b"b" * 60 + b"\n", now=0.0)
    assert pieces == [Piece("stdout", "a" * 60 + "\n")]
    assert chunker.close() == [Piece("stdout", "b" * 60 + "\n"), Piece("", "", eof=True)]


def test_a_line_longer_than_a_chunk_is_cut_at_the_chunk_size() -> None:
    pieces = LogChunker(SMALL).feed("stderr", b"z" * 250, now=0.0)
    assert [len(p.data) for p in pieces] == [100, 100] and {p.stream for p in pieces} == {"stderr"}


def test_streams_are_chunked_apart() -> None:
    chunker = LogChunker(SMALL)
    chunker.feed("stdout", b"out\n", now=0.0)
    chunker.feed("stderr", b"err\n", now=0.1)
    assert chunker.due(now=0.2) == [Piece("stdout", "out\n")]
    assert chunker.due(now=0.3) == [Piece("stderr", "err\n")]


def test_a_character_split_by_a_cut_is_kept_whole() -> None:
    chunker = LogChunker(OutputOptions(chunk_bytes=3, flush_s=0))
    pieces = chunker.feed("stdout", "aé€".encode(), now=0.0)  # 1 + 2 + 3 bytes, cut every 3
    text = "".join(p.data for p in pieces + chunker.close())
    assert text == "aé€" and "\ufffd" not in text


def test_the_bound_truncates_once_with_a_marker_and_counts_the_rest() -> None:
    chunker = LogChunker(SMALL)
    pieces = chunker.feed("stdout", b"x" * 950, now=0.0)
    pieces += chunker.feed("stdout", b"y" * 100, now=0.0)
    pieces += chunker.feed("stderr", b"z" * 500, now=0.0)
    pieces += chunker.close()
    data = [p for p in pieces if p.stream == "stdout"]
    assert sum(len(p.data) for p in data) == 1000
    markers = [p for p in pieces if p.truncated]
    assert len(markers) == 1 and "truncated" in markers[0].data
    assert pieces[-1] == Piece("", "", eof=True, dropped_bytes=50 + 500)


@given(st.lists(st.binary(max_size=300), max_size=30))
def test_everything_under_the_bound_comes_out_in_order(parts: list[bytes]) -> None:
    chunker = LogChunker(OutputOptions(max_bytes=10**6, chunk_bytes=64, flush_s=0.15))
    pieces = []
    for n, part in enumerate(parts):
        pieces += chunker.feed("stdout", part, now=n * 0.1)
        pieces += chunker.due(now=n * 0.1)
    pieces += chunker.close()
    assert "".join(p.data for p in pieces) == clean_text(b"".join(parts).decode(errors="replace"))
    assert pieces[-1].eof and all(not p.eof for p in pieces[:-1])


def test_progress_lines_round_trip() -> None:
    assert parse_line(format_line(42, "copying  files\nnow")) == Progress(42.0, "copying files now")
    assert parse_line(format_line(None, "thinking")) == Progress(None, "thinking")
    assert parse_line("##jobstream[progress] 150") == Progress(100.0, None)
    assert parse_line("##jobstream[progress] -3 back") == Progress(0.0, "back")
    assert parse_line("##jobstream[progress] nan what") == Progress(None, "what")
    assert parse_line("##jobstream[progress] halfway there") == Progress(None, "halfway there")
    assert parse_line("progress 42") is None and parse_line("  ##jobstream[progress] 1") is None


def test_report_prints_the_line() -> None:
    out = io.StringIO()
    report(12.5, "step", stream=out)
    assert out.getvalue() == "##jobstream[progress] 12.5 step\n"


def test_the_scanner_finds_progress_lines_split_across_reads() -> None:
    scanner = LineScanner()
    assert scanner.feed(b"noise\n##jobstream[prog") == []
    assert scanner.feed(b"ress] 50 half\r\nmore") == [Progress(50.0, "half")]
    assert scanner.feed(b"x" * 5000 + b"\n") == []  # an over-long line is not scanned


def test_progress_is_throttled_and_the_latest_wins() -> None:
    throttle = ProgressThrottle(every_s=1.0)
    assert throttle.offer(Progress(1, "a"), now=0.0) == Progress(1, "a")
    assert throttle.offer(Progress(2, "b"), now=0.5) is None
    assert throttle.offer(Progress(3, "c"), now=0.7) is None
    assert throttle.due(now=0.9) is None
    assert throttle.due(now=1.0) == Progress(3, "c")
    assert throttle.flush(now=1.1) is None


def test_execution_output_feeds_tails_sink_and_progress() -> None:
    pieces: list[Piece] = []
    progress: list[Progress] = []
    clock = iter([0.0, 0.05, 0.3, 0.4, 0.5]).__next__
    output = ExecutionOutput(pieces.append, progress.append, SMALL, clock=clock)
    output.feed("stdout", b"##jobstream[progress] 10 start\n")
    output.feed("stdout", b"##jobstream[progress] 20 more\n")
    output.tick()
    output.feed("stderr", b"oops\n")
    assert output.close() == 0
    assert progress == [Progress(10.0, "start"), Progress(20.0, "more")]  # the second one at close
    assert output.tails["stderr"].text() == "oops\n"
    assert [p.stream for p in pieces] == ["stdout", "stderr", ""] and pieces[-1].eof


def test_an_execution_that_wrote_nothing_sends_nothing_not_even_its_eof() -> None:
    pieces: list[Piece] = []
    silent = ExecutionOutput(pieces.append, options=SMALL, clock=lambda: 0.0)
    assert silent.close() == 0 and pieces == [] and silent.sent == 0
    # a lone large result, or output that was all dropped past the bound, still ends with its eof
    with_result = ExecutionOutput(pieces.append, options=SMALL, clock=lambda: 0.0)
    with_result.write_result("r" * 100)
    with_result.close()
    assert [p.stream for p in pieces] == ["result", ""] and pieces[-1].eof and with_result.sent == 2


def test_a_large_result_follows_the_output_as_result_pieces() -> None:
    pieces: list[Piece] = []
    output = ExecutionOutput(pieces.append, options=SMALL, clock=lambda: 0.0)
    output.feed("stdout", b"before\n")
    output.write_result("r" * 40000)
    output.close()
    assert pieces[0] == Piece("stdout", "before\n")
    assert "".join(p.data for p in pieces if p.stream == "result") == "r" * 40000
    assert pieces[-1].eof and len(pieces) == 1 + 3 + 1


def test_results_are_inline_when_small_and_referenced_when_large() -> None:
    assert place_result(None, "e1", 10) == (None, None)
    assert place_result('{"a":1}', "e1", 10) == ('{"a":1}', None)
    inline, large = place_result('"' + "é" * 10 + '"', "e1", 10)
    assert large == '"' + "é" * 10 + '"'
    assert json.loads(inline or "") == {"ref": "logs", "execution_id": "e1", "stream": "result", "bytes": 22}


@given(st.lists(st.sampled_from(["noise", "#", "##jobstream[progress] 5 a", "##jobstream[progress] 7", "x#"]),
                max_size=12), st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_the_scanner_finds_the_same_progress_however_the_output_is_split(lines: list[str], cuts: list[int]) -> None:
    text = "".join(line + "\n" for line in lines).encode()
    expected = [p for line in lines if (p := parse_line(line)) is not None]
    scanner = LineScanner()
    found = []
    start = 0
    for cut in sorted(c % (len(text) + 1) for c in cuts) + [len(text)]:
        found += scanner.feed(text[start:cut])
        start = max(start, cut)
    assert found == expected
