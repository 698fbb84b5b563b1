"""What the API knows of its two dependencies, so a request need not find an outage the slow way.

The broker: librdkafka's error callback says when every broker is down; an acknowledged produce,
or a metadata probe from the producer's poll thread (at most one a second while down), says when
one is back. While it is down a command is answered ``503`` at once and not produced, so nothing
the client was told failed can land later. The read model (``ReadModel``) has its own gate: a
query that cannot connect, or the LISTEN connection's loss, marks it down; while down a read
fails at once (``503``) but for one probe a second, and a command is sent without waiting to see
it projected (``202`` with its command id). Each outage is logged as a change of state.
"""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import KafkaError, KafkaException, Producer

from jobstream.outage import Gate, Outage

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 1.0


class BrokerWatch:
    """The API producer's view of the brokers: up until librdkafka says all are down."""

    def __init__(self) -> None:
        self.gate = Gate(Outage("the broker", log), on_change=self._changed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._went_down = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake the requests of ``loop`` waiting for an acknowledgement when the broker goes down."""
        self._loop = loop

    @property
    def down(self) -> bool:
        return self.gate.down

    def on_error(self, error: KafkaError) -> None:
        """librdkafka's ``error_cb`` (on the poll thread): only "all brokers down" is an outage;
        one dropped connection is reconnected by librdkafka and says nothing of the others."""
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.gate.mark_down(error.str())

    def acknowledged(self) -> None:
        self.gate.mark_up()

    def probe(self, producer: Producer) -> None:
        """While down, ask for the cluster's metadata (on the poll thread, at most once a second)."""
        if not self.gate.down or not self.gate.may_try():
            return
        try:
            producer.list_topics(timeout=PROBE_TIMEOUT_S)
        except KafkaException as error:
            self.gate.mark_down(str(error))
        else:
            self.gate.mark_up()

    async def went_down(self) -> None:
        await self._went_down.wait()

    def _changed(self, down: bool) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._went_down.set if down else self._went_down.clear)
