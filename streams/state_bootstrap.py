"""Job states rebuilt from the events topic, for a partition whose state changelog is empty.

The events are the truth; the changelog is a cache of their fold. When a partition's changelog
holds nothing but its events partition does (a deployment that ran the state processor before
this changelog existed, or a changelog that was lost), folding the events rebuilds every job's
state, which the state processor then writes to the changelog. Read committed: only what a state
processor committed counts.
"""

from __future__ import annotations

import logging
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from jobstream.config import Settings
from jobstream.core.state import JobState, SequenceError, evolve
from jobstream.schemas import Codec, JobEvent, MessageDecodeError
from jobstream.streams.kafka_io import consume_ready, consumer_config, end_offset

log = logging.getLogger(__name__)


def fold_events(settings: Settings, codec: Codec, topic: str, partition: int, timeout_s: float) -> dict[str, JobState]:
    """Every job's state from the partition's events; {} when it has none."""
    consumer = Consumer(consumer_config(settings, f"state-bootstrap-{uuid.uuid4().hex[:8]}"))
    try:
        end = end_offset(consumer, TopicPartition(topic, partition))
        if end == 0:
            return {}
        started = time.monotonic()
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        states: dict[str, JobState] = {}
        while consumer.position([TopicPartition(topic, partition)])[0].offset < end:
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"folding {topic}[{partition}] took over {timeout_s:.0f}s")
            for message in consume_ready(consumer, 10_000, 0.5):
                if message.error() is None:
                    _fold(states, codec, message.value() or b"", topic, partition, message.offset())  # type: ignore[arg-type]
        log.info("rebuilt %d job states from %s[%d] (%d events) in %.1fs", len(states), topic, partition, end,
                 time.monotonic() - started)
        return states
    finally:
        consumer.close()


def _fold(states: dict[str, JobState], codec: Codec, value: bytes, topic: str, partition: int, offset: int) -> None:
    try:
        event = codec.decode(value, topic=topic, partition=partition, offset=offset)
    except MessageDecodeError as error:  # the projector sets the events topic's poison aside
        log.error("%s: skipped while rebuilding job states", error)
        return
    if not isinstance(event, JobEvent):
        return
    job_id = event.envelope.job_id
    state = states.get(job_id) or JobState(job_id)
    if event.envelope.seq != state.seq + 1:
        return  # a duplicate (seq already folded); a gap would be a bug upstream, not ours to fill
    try:
        states[job_id] = evolve(state, event)
    except SequenceError as error:
        log.error("%s: skipped while rebuilding job states", error)
