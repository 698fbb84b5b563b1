"""A thread that folds a one-partition topic from its beginning and keeps following it, so that
what any process appends there takes effect here within a poll: the API's keyring (the keys
topic) and vault (the secrets topic)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from jobstream.config import Settings
from jobstream.schemas import MessageDecodeError, make_codec
from jobstream.streams.kafka_io import BATCHED_FETCH, consumer_config

log = logging.getLogger(__name__)
POLL_S = 0.2


class TopicFollower:
    def __init__(self, settings: Settings, topic: str, group: str, fold: Callable[[Any], None]) -> None:
        self.settings, self.topic, self.group, self.fold = settings, topic, group, fold
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=group, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        codec = make_codec(self.settings.schema_registry_url)
        # Off the latency path: a record reaches us within a poll and the broker's 100 ms batching.
        consumer = Consumer(consumer_config(self.settings, self.group, **BATCHED_FETCH))
        consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        try:
            while not self._stop.is_set():
                for message in consumer.consume(500, POLL_S):
                    if message.error() is not None or message.value() is None:  # a tombstone folds nothing
                        continue
                    try:
                        record = codec.decode(message.value(), topic=message.topic(), partition=message.partition(),
                                              offset=message.offset())
                    except MessageDecodeError as error:
                        log.warning("%s: skipped an undecodable record: %s", self.topic, error)
                        continue
                    self.fold(record)
        finally:
            consumer.close()
