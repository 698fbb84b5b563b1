"""The engine's loop: poll a batch, process it in one transaction, commit, again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from jobstream.config import Settings
from jobstream.outage import Outage
from jobstream.streams.engine import metrics
from jobstream.streams.engine.config import (
    EngineConfig,
    engine_consumer_config,
    engine_producer_config,
    restore_consumer_config,
)
from jobstream.streams.engine.liveness import STALLED_EXIT_CODE, Liveness
from jobstream.streams.engine.processor import Batch, Processor
from jobstream.streams.engine.restore import restore
from jobstream.streams.engine.store import Overlay, Serde, Stores
from jobstream.streams.engine.transaction import Fatal, Outcome, abort, classify, commit, error_of
from jobstream.streams.kafka_io import serve_rebalances
from jobstream.streams.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)
V = TypeVar("V")
FATAL_EXIT_CODE = 2
CALL_TIMEOUT_S = 30.0
LAG_CHECK_EVERY_S = 5.0  # an idle process asks the broker for its lag at most this often


class Engine(Generic[V]):
    """One process of an exactly-once partitioned processor. No transaction is open while the
    consumer is polled, so rebalance callbacks (which run inside poll) never give up a partition
    with work in flight; a new partition's store is restored inside its assignment callback,
    before any of its input is handled."""

    def __init__(self, settings: Settings, config: EngineConfig, processor: Processor[V], serde: Serde[V]) -> None:
        self.config = config
        self.processor = processor
        self.serde = serde
        self.transactional_id = config.transactional_id
        self.settings = settings
        self.consumer = Consumer({**engine_consumer_config(settings, config), "error_cb": self._on_client_error})
        self.producer = self._new_producer()
        self.broker_lost = False  # every broker was down since the producer was made: make a new one
        self.restorer = Consumer(restore_consumer_config(settings, config))
        self.stores: Stores[V] = Stores()
        self.liveness = Liveness(config.liveness_s)
        self.rebalances = 0  # counts assignment changes, to spot a poll that straddled one
        self.in_transaction = False
        self.stopping = False
        self.next_punctuate = time.monotonic() + config.punctuate_every_s
        self.lag_checked_at = 0.0
        self.lag_reported_at = 0.0
        self.measures = Measures(config.app_id)
        # A batch that sent nothing and changed no state (credits with no work to match, commands
        # that decide nothing, an idle punctuation) commits nothing: a transaction costs the broker
        # ~15 times a plain produce request. Its partitions' positions ride with the next
        # transaction or punctuation; consumed again after a crash or by the next owner, it again
        # changes nothing.
        self.uncommitted: set[tuple[str, int]] = set()

    def stop(self, *_: Any) -> None:
        """Finish the batch in hand, then leave (a signal handler)."""
        self.stopping = True

    def run(self) -> int:
        """Process until stopped; the exit code: 0, FATAL_EXIT_CODE (fenced or fatal) or STALLED_EXIT_CODE."""
        try:
            return self._run()
        finally:
            # A process that goes on after its engine (one embedded in it) must not be ended by the
            # watch of a loop that no longer turns.
            self.liveness.stop()

    def _run(self) -> int:
        code = 0
        try:
            self._init_transactions()
            self.consumer.subscribe(list(self.config.input_topics), on_assign=self._on_assign,
                                    on_revoke=self._on_revoke, on_lost=self._on_lost)
            self.liveness.start()
            log.info("engine %s started: transactional id %s", self.config.app_id, self.transactional_id)
            while not self.stopping and code == 0:
                code = self._turn()
        except Fatal as error:
            log.critical("%s: %s; exiting (another instance owns this work now, the client failed, or a "
                         "restart must settle a transaction)", self.transactional_id, error)
            code = FATAL_EXIT_CODE
        finally:
            # On every way out, fenced too: a consumer left to the interpreter's exit is destroyed
            # after confluent-kafka cleared its callbacks, and its close then runs inside that
            # teardown (a fenced state processor once died of "free(): invalid pointer" there).
            self._close()
        return code

    def _new_producer(self) -> Producer:
        return Producer({**engine_producer_config(self.settings, self.config, self.transactional_id),
                         "error_cb": self._on_client_error})

    def _on_client_error(self, error: KafkaError) -> None:
        """librdkafka's error callback (served inside poll and the transactional calls)."""
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.broker_lost = True

    def _renew_producer(self, why: str) -> None:
        """A new producer under the same transactional id: its init_transactions fences whatever the
        old one left open, and it has no stale coordinator. After a broker outage the old one's
        send_offsets_to_transaction can hang past its timeout (librdkafka issues 5456 and 5511),
        which a new producer was measured not to do."""
        log.warning("%s: a new transactional producer (%s)", self.transactional_id, why)
        old, self.producer, self.broker_lost = self.producer, self._new_producer(), False
        _quietly(lambda: old.purge(in_queue=True, in_flight=True, blocking=False))
        _quietly(lambda: old.flush(0))
        self._init_transactions()

    def _init_transactions(self) -> None:
        """Fence any transaction of a former process with our id; wait for the broker as long as it
        takes (a process that exited instead would be restarted into the same wait, again and again)."""
        outage = Outage(f"the broker ({self.transactional_id})", log)
        while True:
            try:
                self.producer.init_transactions(self.config.transaction_timeout_ms / 1000 + CALL_TIMEOUT_S)
            except KafkaException as exception:
                error = error_of(exception)
                if not error.retriable() or self.stopping:
                    raise Fatal(f"init_transactions failed: {error}") from exception
                outage.failed(str(error), time.monotonic())
                self.liveness.turned(consumed=False)  # waiting for the broker is not a stall
                continue
            outage.recovered(time.monotonic())
            return

    # -- one turn -------------------------------------------------------------------------

    def _turn(self) -> int:
        rebalances = self.rebalances
        messages = self._poll()
        self.liveness.turned(consumed=bool(messages))
        if self.rebalances != rebalances and messages:
            self._rewind(messages)  # fetched around an assignment change: take them again
            messages = []
        now = time.monotonic()
        if now - self.lag_reported_at >= LAG_CHECK_EVERY_S:
            self.lag_reported_at = now
            self.measures.lag.set(self._cached_lag())
        punctuate = now >= self.next_punctuate and bool(self.stores.tables)
        if punctuate:
            self.next_punctuate = now + self.config.punctuate_every_s
        if messages or punctuate:
            self._transact(messages, punctuate)
        elif self.liveness.stalled(self._lagging()):
            log.critical("liveness: lag on assigned partitions of %s but nothing consumed for %.0fs; exiting",
                         ", ".join(self.config.input_topics), self.config.liveness_s)
            return STALLED_EXIT_CODE
        return 0

    def _poll(self) -> list[Message]:
        """What is there: waits for the first message only, so a lone command goes at once."""
        try:
            first = self.consumer.poll(self.config.poll_timeout_s)
            if first is None:
                return []
            polled = [first, *self.consumer.consume(self.config.max_batch - 1, 0)]
            if self.config.gather_from <= len(polled) < self.config.max_batch:
                polled += self.consumer.consume(self.config.max_batch - len(polled), self.config.gather_s)
        except KafkaException as exception:
            raise Fatal(f"consumer failed: {error_of(exception)}") from exception
        owns = self.stores.owns
        messages = []
        for message in polled:
            error = message.error()
            if error is None:
                if owns(message.partition()):  # type: ignore[arg-type]
                    messages.append(message)
            elif error.fatal() or error.code() == KafkaError._FATAL:
                # e.g. a static member fenced after a long broker outage: this consumer is done
                raise Fatal(f"consumer failed: {error}")
            else:
                log.warning("consumer: %s", error)
        return messages

    def _transact(self, messages: list[Message], punctuate: bool) -> None:
        overlay: Overlay[V] = Overlay(self.stores)
        batch = Batch(self.producer, overlay)
        firsts: dict[tuple[str, int], int] = {}
        handle = self.processor.handle
        if self.broker_lost:
            self._renew_producer("every broker was down since the last one began")
            batch = Batch(self.producer, overlay)
        self.producer.begin_transaction()
        self.in_transaction = True
        try:
            for message in messages:
                firsts.setdefault((message.topic(), message.partition()), message.offset())  # type: ignore[arg-type]
                handle(message, batch)
            if messages:
                self.processor.handled(batch)
            if punctuate:
                self.processor.punctuate(batch, frozenset(self.stores.tables))
            batch.write_changelog(self.config.changelog_topic, self.serde)
            closing = time.perf_counter()
            # a punctuation that wrote nothing commits only the positions batches before it left
            wrote = bool(batch.sent) or (punctuate and bool(self.uncommitted))
            if wrote:
                positions = self._positions(firsts, punctuate)
                if positions:
                    self.producer.send_offsets_to_transaction(positions, self.consumer.consumer_group_metadata(),
                                                              CALL_TIMEOUT_S)
            else:
                self.uncommitted.update(firsts)
            commit(self.producer, CALL_TIMEOUT_S)  # with nothing in it, local: librdkafka sends no EndTxn
            if wrote:
                self.uncommitted.clear()
        except KafkaException as exception:
            self._aborted(error_of(exception), overlay, firsts)
            return
        except BaseException:  # a bug: commit nothing of it, and let the process end
            self._abort_quietly()
            raise
        finally:
            self.in_transaction = False
        overlay.apply()
        self.processor.committed()
        if wrote:
            self.measures.committed(len(messages), time.perf_counter() - closing)

    def _positions(self, firsts: dict[tuple[str, int], int], punctuate: bool) -> list[TopicPartition]:
        """The offsets the transaction commits: the consumer's position (not last offset + 1: it
        steps over transaction markers) on the batch's partitions and those of batches that
        committed nothing before it, and on a punctuation on every owned one. Offsets bind a
        transaction to this member's group generation, so a zombie whose partitions moved (paused,
        then resumed) cannot commit what its timers produced either: a punctuation alone sends
        nothing the group coordinator would check."""
        wanted = set(firsts) | self.uncommitted  # revoked partitions left it in _give_up
        if punctuate:
            wanted |= {(t, p) for t in self.config.input_topics for p in self.stores.tables}
        if not wanted:
            return []
        positions = self.consumer.position([TopicPartition(t, p) for t, p in sorted(wanted)])
        unread = [tp for tp in positions if tp.offset < 0]  # nothing consumed there since assigned
        if unread:
            positions = [tp for tp in positions if tp.offset >= 0] + self.consumer.committed(unread, CALL_TIMEOUT_S)
        return [tp for tp in positions if tp.offset >= 0]

    def _aborted(self, error: Any, overlay: Overlay[V], firsts: dict[tuple[str, int], int]) -> None:
        outcome = classify(error)
        if outcome is Outcome.FATAL:
            raise Fatal(f"transaction failed: {error}")
        if outcome is Outcome.UNKNOWN:  # aborting is not safe: a new producer's init fences it
            log.warning("transaction's outcome unknown (%s); its %d partitions are consumed again", error, len(firsts))
            self.measures.aborted.inc()
            overlay.doubt()
            self.processor.aborted()
            self._seek(firsts)
            self._renew_producer("the last transaction's outcome is unknown")
            return
        log.warning("transaction aborted (%s); its %d partitions are consumed again", error, len(firsts))
        self.measures.aborted.inc()
        abort(self.producer, CALL_TIMEOUT_S)
        overlay.drop()
        self.processor.aborted()
        self._seek(firsts)

    def _abort_quietly(self) -> None:
        try:
            abort(self.producer, CALL_TIMEOUT_S)
        except Fatal as error:
            log.error("%s", error)

    def _rewind(self, messages: list[Message]) -> None:
        firsts: dict[tuple[str, int], int] = {}
        for message in messages:
            firsts.setdefault((message.topic(), message.partition()), message.offset())  # type: ignore[arg-type]
        self._seek(firsts)

    def _seek(self, firsts: dict[tuple[str, int], int]) -> None:
        for (topic, partition), offset in firsts.items():
            if self.stores.owns(partition):
                try:
                    self.consumer.seek(TopicPartition(topic, partition, offset))
                except KafkaException as exception:
                    raise Fatal(f"seek of partition {partition} failed: {error_of(exception)}") from exception

    def _lagging(self) -> bool:
        """Committed input beyond our position on an owned partition (asked only once nothing was
        consumed for the liveness limit: it costs a round trip per partition)."""
        now = time.monotonic()
        if (now - self.liveness.consumed_at <= self.config.liveness_s or not self.stores.tables
                or now - self.lag_checked_at < LAG_CHECK_EVERY_S):
            return False
        self.lag_checked_at = now
        partitions = [TopicPartition(t, p) for t in self.config.input_topics for p in self.stores.tables]
        for position in self.consumer.position(partitions):
            # read_committed: the high end the broker reports is the last stable offset
            stable = self.consumer.get_watermark_offsets(position, timeout=5)[1]
            if position.offset >= 0 and stable > position.offset:
                return True
            if position.offset < 0 and stable > self._committed(position):
                return True  # never fetched from, yet there is work
        return False

    def _cached_lag(self) -> int:
        """Messages behind the partitions' ends as the last fetches reported them: no round trip."""
        partitions = [TopicPartition(t, p) for t in self.config.input_topics for p in self.stores.tables]
        lag = 0
        try:
            for position in self.consumer.position(partitions) if partitions else []:
                high = self.consumer.get_watermark_offsets(position, cached=True)[1]
                if position.offset >= 0 and high >= 0:
                    lag += max(0, high - position.offset)
        except KafkaException as error:  # a metric is not worth stopping the loop for
            log.debug("lag not known this turn: %s", error)
        return lag

    def _committed(self, partition: TopicPartition) -> int:
        committed = self.consumer.committed([partition], timeout=5)[0].offset
        return max(committed, 0)

    # -- rebalances: no transaction is open while they run ---------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert not self.in_transaction
        self.rebalances += 1
        numbers = sorted({tp.partition for tp in partitions if not self.stores.owns(tp.partition)})
        if numbers:
            # Offsets first: with read_committed they are "stable", i.e. this waits until no
            # transaction of a former owner holding offsets is open, so the changelog read next
            # includes whatever that transaction committed.
            consumer.committed(partitions, timeout=self.config.transaction_timeout_ms / 1000 + CALL_TIMEOUT_S)
            tables = restore(self.restorer, self.config.changelog_topic, numbers, self.serde,
                             self.config.restore_timeout_s, beat=lambda: self.liveness.turned(consumed=False))
            for partition, table in tables.items():
                self.stores.install(partition, table)
                self.processor.assigned(partition, table)
        if self.config.cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)  # eager: the whole assignment, once all was revoked
        self.liveness.reset()
        log.info("assigned %s partitions %s", ", ".join(self.config.input_topics), numbers)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # What we processed is committed, but for batches that wrote nothing: the next owner starts there
        assert not self.in_transaction
        self._give_up(partitions)
        if self.config.cooperative:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("lost %s partitions %s (the group moved on without us)", ", ".join(self.config.input_topics),
                    sorted({tp.partition for tp in partitions}))
        self._on_revoke(consumer, partitions)

    def _give_up(self, partitions: list[TopicPartition]) -> None:
        self.rebalances += 1
        numbers = sorted({tp.partition for tp in partitions if self.stores.owns(tp.partition)})
        self.uncommitted = {(t, p) for t, p in self.uncommitted if p not in numbers}  # the next owner's now
        for partition in numbers:
            self.stores.drop(partition)
            self.processor.revoked(partition)
        log.info("revoked %s partitions %s", ", ".join(self.config.input_topics), numbers)

    def _close(self) -> None:
        for close in (lambda: serve_rebalances(self.consumer), self.consumer.close, self.restorer.close):
            _quietly(close)
        _quietly(lambda: self.producer.flush(5))


class Measures:
    """The engine's metrics of one application, labelled once."""

    def __init__(self, app: str) -> None:
        self.transactions = metrics.TRANSACTIONS.labels(app)
        self.aborted = metrics.ABORTED.labels(app)
        self.batch_messages = metrics.BATCH_MESSAGES.labels(app)
        self.commit_seconds = metrics.COMMIT_SECONDS.labels(app)
        self.lag = CONSUMER_LAG.labels(app)  # the app id is the consumer group

    def committed(self, messages: int, commit_s: float) -> None:
        self.transactions.inc()
        if messages:  # a punctuation alone is not a batch of input
            self.batch_messages.observe(messages)
            self.commit_seconds.observe(commit_s)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as error:  # noqa: BLE001 - closing: report and go on
        log.warning("closing: %s", error)
