"""A thread that folds a one-partition topic from its beginning and keeps following it, so that
what any process appends there takes effect here within a poll: the API's keyring (the keys
topic) and vault (the secrets topic)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from jobstream.config import Settings
from jobstream.schemas import MessageDecodeError, make_codec
from jobstream.streams.fetch_guard import GuardedReader
from jobstream.streams.kafka_io import BATCHED_FETCH, consumer_config, end_offset

log = logging.getLogger(__name__)
POLL_S = 0.2


class TopicFollower:
    def __init__(self, settings: Settings, topic: str, group: str, fold: Callable[[Any], None]) -> None:
        self.settings, self.topic, self.group, self.fold = settings, topic, group, fold
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=group, daemon=True)
        self._folded_to = 0  # the offset after the last record (or the end) this follower has folded
        self._progress = threading.Condition()
        self._reader: GuardedReader | None = None
        self._probe: Consumer | None = None  # asks where the topic ends for callers (the thread's consumer is busy)
        self._probe_lock = threading.Lock()

    def start(self) -> None:
        # Off the latency path: a record reaches us within a poll and the broker's 100 ms batching.
        config = consumer_config(self.settings, self.group, **BATCHED_FETCH, **{"enable.partition.eof": True})
        self._reader = GuardedReader(lambda: Consumer(config), f"follower-{self.topic}")
        self._reader.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._probe = Consumer(consumer_config(self.settings, self.group))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._probe is not None:
            with self._probe_lock:
                self._probe.close()
                self._probe = None

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Wait until every record in the topic now has been folded; False when that took longer
        than ``timeout_s`` (or the broker did not say where the topic ends). For a record another
        process is known to have written, such as a rotation's rewrapped data keys."""
        try:
            with self._probe_lock:
                if self._probe is None:
                    return False
                end = end_offset(self._probe, TopicPartition(self.topic, 0), deadline_s=timeout_s)
        except KafkaException as error:
            log.warning("%s: where it ends is unknown (%s)", self.topic, error)
            return False
        with self._progress:
            return self._progress.wait_for(lambda: self._folded_to >= end, timeout_s)

    def _run(self) -> None:
        assert self._reader is not None  # made by start()
        codec = make_codec(self.settings.schema_registry_url)
        try:
            while not self._stop.is_set():
                for message in self._reader.consumer.consume(500, POLL_S):
                    self._take(message, codec)
                self._reader.heal()
        finally:
            self._reader.close()

    def _take(self, message: Message, codec: Any) -> None:
        error, offset = message.error(), message.offset() or 0
        if error is None and message.value() is not None:  # a tombstone folds nothing
            try:
                self.fold(codec.decode(message.value(), topic=message.topic(), partition=message.partition(),
                                       offset=offset))
            except MessageDecodeError as undecodable:
                log.warning("%s: skipped an undecodable record: %s", self.topic, undecodable)
        if error is None or error.code() == KafkaError._PARTITION_EOF:
            next_offset = offset + 1 if error is None else offset  # an end is told at the next offset
            with self._progress:
                self._folded_to = max(self._folded_to, next_offset)
                self._progress.notify_all()
