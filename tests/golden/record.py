"""``make golden``: play every scenario and write its history, then the deliberately broken ones.

Recorded on the pure stage (``stage.py``: decide, evolve, follow-ups and timers as the pipeline
runs them), not from a live run: a live run's ids, clocks and interleavings differ every time,
while these are deterministic, so recording again rewrites a file only where behaviour changed,
and ``git diff`` shows exactly how. Record again only when a change of the contract is meant.
"""

from __future__ import annotations

from dataclasses import replace

from jobstream.schemas import JobEvent

from .history import FOLDER, History, events_of, read, replay, write
from .scenarios import SCENARIOS
from .stage import Recorded

BROKEN = "broken-"  # histories that must not replay


def record() -> list[str]:
    written = []
    for name, play in SCENARIOS.items():
        stage = play()
        write(FOLDER / f"{name}.jsonl", stage.history, replay(events_of(stage.history)))
        written.append(f"{name}.jsonl")
    plain = read(FOLDER / "plain-job.jsonl")
    for kind, lines in (("gap", _without_seq(plain, 3)), ("duplicate-seq", _with_seq_twice(plain, 3))):
        write(FOLDER / f"{BROKEN}{kind}.jsonl", lines, plain.expected)
        written.append(f"{BROKEN}{kind}.jsonl")
    return written


def _without_seq(history: History, seq: int) -> list[Recorded]:
    """The plain job's history with its event ``seq`` lost: a gap."""
    return [line for line in history.lines if not _is_event(line, seq)]


def _with_seq_twice(history: History, seq: int) -> list[Recorded]:
    """The plain job's history with a second, different event numbered ``seq`` after the first."""
    out: list[Recorded] = []
    for line in history.lines:
        out.append(line)
        if _is_event(line, seq):
            event = line.record
            envelope = replace(event.envelope, event_id=f"{event.envelope.event_id}-again")
            out.append(Recorded(replace(event, envelope=envelope)))
    return out


def _is_event(line: Recorded, seq: int) -> bool:
    return isinstance(line.record, JobEvent) and line.record.envelope.seq == seq


if __name__ == "__main__":
    for name in record():
        print(f"recorded tests/golden/{name}")
