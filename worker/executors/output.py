"""An execution's output on its way to the logs topic: cut into chunks, bounded, scanned for progress.

``LogChunker`` is pure (time passed in): it cuts each stream at a line end once it holds
``chunk_bytes`` or its oldest byte is ``flush_s`` old, and stops at ``max_bytes`` per execution
with one truncation marker. ``ExecutionOutput`` wires it to a sink (the worker's log publisher),
keeps the tails the final report carries, and turns progress lines into throttled callbacks.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jobstream.config import LOG_MAX_BYTES
from jobstream.worker.masking import Masker
from jobstream.worker.progress import PREFIX, Progress, parse_line

TAIL_BYTES = 8 * 1024
STREAMS = ("stdout", "stderr")
MAX_LINE_SCAN = 1024  # a progress line is short: longer lines are not scanned past this


@dataclass(frozen=True)
class OutputOptions:
    max_bytes: int = LOG_MAX_BYTES  # streamed per execution; the rest is dropped and counted
    chunk_bytes: int = 64 * 1024  # cut a chunk at this size ...
    flush_s: float = 0.15  # ... or when its oldest byte is this old
    progress_every_s: float = 1.0  # at most one progress report per execution per interval


@dataclass(frozen=True)
class Piece:
    """One chunk to publish; ``eof`` marks the last of the execution."""

    stream: str
    data: str
    truncated: bool = False
    eof: bool = False
    dropped_bytes: int = 0


class TailBuffer:
    """Keeps the last ``limit`` bytes of a stream, and counts what it dropped."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        body = self.data.decode(errors="replace")
        return f"[... {self.dropped} bytes truncated]\n{body}" if self.dropped else body


def clean_text(data: str) -> str:
    """Postgres text cannot hold NUL: it becomes U+FFFD, as undecodable bytes do."""
    return data.replace("\x00", "\ufffd") if "\x00" in data else data


@dataclass
class _Pending:
    data: bytearray = field(default_factory=bytearray)
    since: float = 0.0
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))


class LogChunker:
    """Cuts streams into pieces by size or age, bounded in total (pure: time is passed in)."""

    def __init__(self, options: OutputOptions) -> None:
        self.options = options
        self.pending: dict[str, _Pending] = {}
        self.sent = 0  # bytes let through, against max_bytes
        self.dropped = 0  # bytes dropped past max_bytes
        self.truncated = False

    def feed(self, stream: str, data: bytes, now: float) -> list[Piece]:
        if self.truncated:
            self.dropped += len(data)
            return []
        allowed = self.options.max_bytes - self.sent
        kept, over = data[:allowed], data[allowed:]
        pending = self.pending.setdefault(stream, _Pending())
        if not pending.data:
            pending.since = now
        pending.data += kept
        self.sent += len(kept)
        pieces = []
        while len(pending.data) >= self.options.chunk_bytes:
            pieces.append(self._cut(stream, pending, self._cut_at(pending.data)))
        if over:
            pieces += self._truncate(len(over))
        return pieces

    def due(self, now: float) -> list[Piece]:
        """Pieces whose oldest byte has waited ``flush_s``: followers see output within that."""
        return [self._cut(stream, p, len(p.data)) for stream, p in self.pending.items()
                if p.data and now - p.since >= self.options.flush_s]

    def close(self) -> list[Piece]:
        """Everything still pending, then the eof marker."""
        return [*self.drain(), Piece("", "", eof=True, dropped_bytes=self.dropped)]

    def drain(self) -> list[Piece]:
        """All pending bytes, decoders included (a character cut short ends as U+FFFD)."""
        pieces = [self._cut(stream, p, len(p.data), final=True) for stream, p in self.pending.items()]
        return [p for p in pieces if p.data]

    def _cut_at(self, data: bytearray) -> int:
        """At the last line end within a chunk, or at the chunk size when a line is longer."""
        size = self.options.chunk_bytes
        newline = data.rfind(b"\n", 0, size)
        return newline + 1 if newline >= 0 else size

    def _cut(self, stream: str, pending: _Pending, at: int, final: bool = False) -> Piece:
        head = bytes(pending.data[:at])
        del pending.data[:at]
        # The decoder keeps a multi-byte character split by the cut for the next piece.
        text = pending.decoder.decode(head, final=final)
        return Piece(stream, clean_text(text))

    def _truncate(self, dropped: int) -> list[Piece]:
        self.truncated = True
        self.dropped += dropped
        marker = (f"\n[jobstream: output truncated: the log of an execution is bounded to "
                  f"{self.options.max_bytes} bytes]\n")
        return [*self.drain(), Piece("stderr", marker, truncated=True)]


class LineScanner:
    """Finds progress lines in a stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self.line = bytearray()
        self.overlong = False

    def feed(self, data: bytes) -> list[Progress]:
        if b"##" not in data and not self.line.startswith(b"#"):  # the common case: no line can be progress
            end = data.rfind(b"\n")
            if end >= 0:
                self.line.clear()
                self.overlong = False
            self._add(data[end + 1:])
            return []
        found = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._add(data[start:end])
            if not self.overlong and self.line.startswith(PREFIX.encode()):
                progress = parse_line(self.line.decode(errors="replace").rstrip("\r"))
                if progress is not None:
                    found.append(progress)
            self.line.clear()
            self.overlong = False
            start = end + 1
        self._add(data[start:])
        return found

    def _add(self, part: bytes) -> None:
        room = MAX_LINE_SCAN - len(self.line)
        if len(part) > room:
            self.overlong = True
        self.line += part[:max(room, 0)]


class ProgressThrottle:
    """At most one report per interval; the latest progress wins (pure: time is passed in)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.last_sent: float | None = None
        self.pending: Progress | None = None

    def offer(self, progress: Progress, now: float) -> Progress | None:
        self.pending = progress
        return self.due(now)

    def due(self, now: float) -> Progress | None:
        if self.pending is None or (self.last_sent is not None and now - self.last_sent < self.every_s):
            return None
        return self.flush(now)

    def flush(self, now: float) -> Progress | None:
        progress, self.pending = self.pending, None
        if progress is not None:
            self.last_sent = now
        return progress


Sink = Callable[[Piece], None]
ProgressSink = Callable[[Progress], None]


class ExecutionOutput:
    """Everything one execution prints: to the sink in chunks, into tails, progress to its callback."""

    def __init__(self, sink: Sink, on_progress: ProgressSink | None = None, options: OutputOptions | None = None,
                 clock: Callable[[], float] = time.monotonic, masker: Masker | None = None) -> None:
        self.options = options or OutputOptions()
        self.masker = masker  # the execution's secret values, masked before anything leaves
        self.sink, self.on_progress, self.clock = sink, on_progress, clock
        self.chunker = LogChunker(self.options)
        self.tails = {stream: TailBuffer() for stream in STREAMS}
        self.scanner = LineScanner()
        self.throttle = ProgressThrottle(self.options.progress_every_s)
        self.closed = False
        self.sent = 0  # pieces handed to the sink

    def feed(self, stream: str, data: bytes) -> None:
        if self.masker is not None:
            data = self.masker.feed(stream, data)
        self._feed(stream, data)

    def _feed(self, stream: str, data: bytes) -> None:
        now = self.clock()
        self.tails[stream].feed(data)
        self._send(self.chunker.feed(stream, data, now))
        if stream == "stdout":
            for progress in self.scanner.feed(data):
                self._progress(self.throttle.offer(progress, now))

    def tick(self) -> None:
        """Called every ~100 ms while the execution runs: flushes what is due."""
        now = self.clock()
        self._send(self.chunker.due(now))
        self._progress(self.throttle.due(now))

    def write_result(self, text: str, piece_chars: int = 16 * 1024) -> None:
        """A large result, after the output, as ``result`` pieces (never truncated: it was bounded before)."""
        self._release_held()
        self._send(self.chunker.drain())  # the output first, in order
        if self.masker is not None:
            text = self.masker.text(text)
        self._send([Piece("result", clean_text(text[start:start + piece_chars]))
                    for start in range(0, len(text), piece_chars)])

    def close(self) -> int:
        """Flush output and progress, then send the eof marker, unless the execution sent nothing at
        all: then it sends nothing (its finish report says so, ``log_records`` 0), which saves most
        jobs a record, a produce request and a projected row. Returns the bytes dropped."""
        if self.closed:
            return self.chunker.dropped
        self.closed = True
        self._release_held()
        self._progress(self.throttle.flush(self.clock()))
        last = self.chunker.close()
        silent = self.sent == 0 and len(last) == 1 and not last[0].dropped_bytes
        self._send([] if silent else last)
        return self.chunker.dropped

    def _release_held(self) -> None:
        """The bytes the masker held back: at the end of the output, no value can complete."""
        if self.masker is not None:
            for stream in STREAMS:
                if held := self.masker.flush(stream):
                    self._feed(stream, held)

    def _send(self, pieces: list[Piece]) -> None:
        for piece in pieces:
            self.sink(piece)
        self.sent += len(pieces)

    def _progress(self, progress: Progress | None) -> None:
        if progress is not None and self.on_progress is not None:
            self.on_progress(progress)
