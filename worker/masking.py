"""Secret values masked in what an execution prints and returns, before it leaves the worker.

Output arrives in arbitrary pieces, so a value may be cut between two: each stream holds back its
last bytes while they could begin a value (at most the longest value's length less one), and lets
them go with the next piece or at the end.
"""

from __future__ import annotations

import json

MASK = "***"


class Masker:
    def __init__(self, values: list[str]) -> None:
        # Longest first: a value that contains another is masked whole. Empty values mask nothing.
        texts = sorted({v for v in values if v}, key=len, reverse=True)
        self.texts = texts + [e for e in (json.dumps(v)[1:-1] for v in texts) if e not in texts]  # as in JSON
        self.needles = [t.encode() for t in self.texts]
        self.held: dict[str, bytes] = {}

    def feed(self, stream: str, data: bytes) -> bytes:
        """What of ``stream`` may go now, masked."""
        buffer = self.held.pop(stream, b"") + data
        for needle in self.needles:
            buffer = buffer.replace(needle, MASK.encode())
        keep = self._prefix_at_end(buffer)
        if keep:
            self.held[stream] = buffer[-keep:]
            return buffer[:-keep]
        return buffer

    def flush(self, stream: str) -> bytes:
        """What ``stream`` still holds back: at its end, no value can complete any more."""
        return self.held.pop(stream, b"")

    def text(self, value: str) -> str:
        for text in self.texts:
            value = value.replace(text, MASK)
        return value

    def _prefix_at_end(self, buffer: bytes) -> int:
        """The length of the longest end of ``buffer`` that begins a value."""
        return max((n for needle in self.needles for n in range(min(len(needle) - 1, len(buffer)), 0, -1)
                    if buffer.endswith(needle[:n])), default=0)
