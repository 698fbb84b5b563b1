"""The dispatcher's view of the namespaces' in-flight caps: a fold of the keys topic's QuotaSet
records (``jobstream quotas set``), read from the topic's start by every dispatcher instance.

``start`` reads the topic to its end before the dispatcher places anything, so a restart never
dispatches past a cap it has not read yet; a thread then hands later records to the dispatcher's
loop through a queue (the board is the loop's alone).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from jobstream.config import Settings
from jobstream.core.quotas import fold_cap
from jobstream.schemas import Codec, MessageDecodeError, QuotaSet
from jobstream.streams.fetch_guard import GuardedReader
from jobstream.streams.kafka_io import BATCHED_FETCH, consume_ready, consumer_config, end_offset

log = logging.getLogger(__name__)
CATCH_UP_S = 60.0


class QuotaWatch:
    def __init__(self, settings: Settings, topic: str, codec: Codec) -> None:
        self.topic, self.codec = topic, codec
        group = f"dispatcher-quotas-{uuid.uuid4().hex[:8]}"
        self.reader = GuardedReader(lambda: Consumer(consumer_config(settings, group, **BATCHED_FETCH)),
                                    "dispatcher-quotas")
        self.quotas: queue.SimpleQueue[QuotaSet] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quota-watch", daemon=True)

    def start(self) -> dict[str, int]:
        """The caps as the topic holds them now; later changes arrive on ``quotas``."""
        partition = TopicPartition(self.topic, 0, OFFSET_BEGINNING)
        end = end_offset(self.reader.consumer, partition)
        self.reader.assign([partition])
        caps: dict[str, int] = {}
        position, deadline = 0, time.monotonic() + CATCH_UP_S
        while position < end:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {self.topic} to its end within {CATCH_UP_S:.0f}s")
            for message in consume_ready(self.reader.consumer, 500, 0.5):
                if message.error() is None:
                    position = max(position, (message.offset() or 0) + 1)
                quota = self._quota(message)
                if quota is not None:
                    fold_cap(caps, quota)
        self._thread.start()
        return caps

    def drain(self, caps: dict[str, int]) -> None:
        """Apply the records read since (on the dispatcher's loop)."""
        while True:
            try:
                fold_cap(caps, self.quotas.get_nowait())
            except queue.Empty:
                return

    def _run(self) -> None:
        while not self._stopped.is_set():
            for message in consume_ready(self.reader.consumer, 500, 0.5):
                quota = self._quota(message)
                if quota is not None:
                    self.quotas.put(quota)
            self.reader.heal()
        self.reader.close()

    def _quota(self, message: Message) -> QuotaSet | None:
        if message.error() is not None or message.value() is None:
            return None
        try:
            record = self.codec.decode(message.value(), topic=message.topic(),  # type: ignore[arg-type]
                                       partition=message.partition(), offset=message.offset())  # type: ignore[arg-type]
        except MessageDecodeError as error:
            log.warning("keys topic: skipped by the dispatcher's quota watch: %s", error)
            return None
        return record if isinstance(record, QuotaSet) else None

    def stop(self) -> None:
        self._stopped.set()
