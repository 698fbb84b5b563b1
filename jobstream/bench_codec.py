"""`jobstream bench codec`: CPU per command of the state processor's pure hot path, step by step.

No Kafka: N realistic SubmitJob commands (``bench_state.realistic_spec``) are encoded up front,
then each step of ``StateHandler.handle`` is timed over all of them in turn: decode the command,
decide + fold the events, encode the events, derive the side effects (the JobReady) and encode
them, encode the state for the changelog. ``pipeline`` times the same steps interleaved per command,
as the processor runs them. Each figure is the best of ``rounds`` (the least disturbed by other
load), in CPU microseconds per command (``time.process_time``), beside wall-clock ones.

Only long-standing public functions are used, so this file can be copied onto an older commit
and run there unchanged: before/after figures from one machine and one sitting.
"""

from __future__ import annotations

import cProfile
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from jobstream.bench_state import realistic_spec
from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics
from jobstream.schemas import Command, CommandEnvelope, JobEvent, Record, SingleObjectCodec, SubmitJob
from jobstream.streams.side_effects import messages
from jobstream.streams.state_serde import StateSerde

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TOPICS = Topics("bench")


def commands(count: int, seed: int = 7) -> list[SubmitJob]:
    """Deterministic SubmitJob commands shaped like the ones ``bench state-processor`` writes."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        job_id = str(uuid.UUID(int=rng.getrandbits(128)))  # same length as a UUIDv7 job id
        envelope = CommandEnvelope(command_id=str(uuid.UUID(int=rng.getrandbits(128))), job_id=job_id,
                                   type="SubmitJob", issued_at=NOW - timedelta(milliseconds=n), actor="api")
        out.append(SubmitJob(envelope=envelope, spec=realistic_spec(n, rng)))
    return out


def decided(command: Command) -> tuple[JobState, list[JobEvent], JobState]:
    """What ``StateHandler._decide`` does: the events and the state after them."""
    before = JobState(command.envelope.job_id)
    events = decide(before, command, NOW)
    after = before
    for event in events:
        after = evolve(after, event)
    return before, events, after


def side_effects(before: JobState, after: JobState, events: list[JobEvent]) -> list[tuple[str, str, Record]]:
    return messages(TOPICS, before, after, events)


def _timed(step: Callable[[], Any], rounds: int, n: int) -> dict[str, float]:
    """Best-of-rounds CPU and wall microseconds per command of ``step`` (which runs all n)."""
    cpu, wall = [], []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        step()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"cpu_us": round(min(cpu) / n * 1e6, 2), "wall_us": round(min(wall) / n * 1e6, 2)}


def run_codec_bench(count: int = 5_000, rounds: int = 5, profile: str | None = None) -> dict[str, Any]:
    """Per-command microseconds of each step and in all; optionally a cProfile of the pipeline."""
    codec = SingleObjectCodec()
    serde = StateSerde()
    wire = [codec.encode(c, TOPICS.commands) for c in commands(count)]
    decoded = [codec.decode(data, topic=TOPICS.commands, partition=0, offset=i) for i, data in enumerate(wire)]
    results = [decided(c) for c in decoded]
    effects = [side_effects(before, after, events) for before, events, after in results]

    def decode_all() -> None:
        for i, data in enumerate(wire):
            codec.decode(data, topic=TOPICS.commands, partition=0, offset=i)

    def decide_all() -> None:
        for command in decoded:
            decided(command)

    def encode_events_all() -> None:
        for _, events, _ in results:
            for event in events:
                codec.encode(event, TOPICS.events)

    def side_effects_all() -> None:  # derive them: streams/side_effects.py, not this work's
        for (before, events, after) in results:
            side_effects(before, after, events)

    def side_effects_encode_all() -> None:  # as in the pipeline: right after the decision's events
        for (_, events, _), messages_ in zip(results, effects, strict=True):
            for event in events:
                codec.encode(event, TOPICS.events)
            for topic, _, record in messages_:
                codec.encode(record, topic)

    def state_all() -> None:
        for _, _, after in results:
            serde.encode(after)

    def pipeline() -> None:  # StateHandler.handle's pure part, one command after another
        for i, data in enumerate(wire):
            command = codec.decode(data, topic=TOPICS.commands, partition=0, offset=i)
            assert isinstance(command, Command)
            before, events, after = decided(command)
            for event in events:
                codec.encode(event, TOPICS.events)
            for topic, _, record in side_effects(before, after, events):
                codec.encode(record, topic)
            serde.encode(after)

    steps = {"decode": decode_all, "decide_evolve": decide_all, "encode_events": encode_events_all,
             "side_effects": side_effects_all, "encode_side_effects": side_effects_encode_all,
             "state_encode": state_all}
    figures = {name: _timed(step, rounds, count) for name, step in steps.items()}
    # Timed with the events before it (a JobReady's spec is the JobSubmitted's): take them off.
    both = figures["encode_side_effects"]
    figures["encode_side_effects"] = {k: round(both[k] - figures["encode_events"][k], 2) for k in both}
    figures["sum_of_steps"] = {k: round(sum(f[k] for f in figures.values()), 2) for k in ("cpu_us", "wall_us")}
    figures["pipeline"] = _timed(pipeline, rounds, count)
    states = [serde.encode(r[2]) for r in results]  # restore is not per command: apart from the total
    figures["state_decode"] = _timed(lambda: [serde.decode(data) for data in states], rounds, count)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(pipeline)
        profiler.dump_stats(profile)
    sizes = {"command_bytes": sum(map(len, wire)) // count,
             "events_per_command": sum(len(r[1]) for r in results) / count,
             "side_effects_per_command": sum(map(len, effects)) / count,
             "state_bytes": sum(map(len, states)) // count}
    return {"commands": count, "rounds": rounds, "us_per_command": figures, **sizes,
            "commands_per_cpu_s": round(1e6 / figures["pipeline"]["cpu_us"])}
