"""A processor's view of the namespaces' quotas: a fold of the keys topic's QuotaSet records
(``jobstream quotas set``), read from the topic's start by every instance. The dispatcher folds
the in-flight caps; the state processor, the namespaces that allow ``shell: true``.

``start`` reads the topic to its end before the processor decides anything, so a restart never
acts on rules it has not read yet; a thread then hands later records to the processor's loop
through a queue (what the fold builds is the loop's alone), applied by ``drain``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from jobstream.config import Settings
from jobstream.schemas import Codec, MessageDecodeError, QuotaSet
from jobstream.streams.fetch_guard import GuardedReader
from jobstream.streams.kafka_io import BATCHED_FETCH, consume_ready, consumer_config, end_offset

log = logging.getLogger(__name__)
CATCH_UP_S = 60.0


class QuotaWatch:
    def __init__(self, settings: Settings, topic: str, codec: Codec, fold: Callable[[QuotaSet], None],
                 reader: str) -> None:
        """``fold`` applies one record to what the processor keeps; ``reader`` names this watch
        (in its consumer group and the stalled-reader metric: ``dispatcher-quotas``)."""
        self.topic, self.codec, self.fold, self.name = topic, codec, fold, reader
        group = f"{reader}-{uuid.uuid4().hex[:8]}"
        self.reader = GuardedReader(lambda: Consumer(consumer_config(settings, group, **BATCHED_FETCH)), reader)
        self.quotas: queue.SimpleQueue[QuotaSet] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=reader, daemon=True)

    def start(self) -> None:
        """Fold the records the topic holds now; later ones wait on ``quotas`` for ``drain``."""
        partition = TopicPartition(self.topic, 0, OFFSET_BEGINNING)
        end = end_offset(self.reader.consumer, partition)
        self.reader.assign([partition])
        position, deadline = 0, time.monotonic() + CATCH_UP_S
        while position < end:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {self.topic} to its end within {CATCH_UP_S:.0f}s")
            for message in consume_ready(self.reader.consumer, 500, 0.5):
                if message.error() is None:
                    position = max(position, (message.offset() or 0) + 1)
                quota = self._quota(message)
                if quota is not None:
                    self.fold(quota)
        self._thread.start()

    def drain(self) -> None:
        """Fold the records read since (on the processor's loop; cheap when there are none)."""
        while not self.quotas.empty():
            try:
                self.fold(self.quotas.get_nowait())
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
            log.warning("keys topic: skipped by %s: %s", self.name, error)
            return None
        return record if isinstance(record, QuotaSet) else None

    def stop(self) -> None:
        self._stopped.set()
