"""The analytics projector: each job event as one flat ``JobEventRow`` on its own topic, for Kafka
Connect sinks (a warehouse, Postgres), on the exactly-once engine.

Our events are nested, of ~25 record types on one topic, with the queue and the status only on
some: no sink maps that to one table. This projector derives a flat, documented stream instead
(``core/analytics.py``) and leaves the source of truth as it is. A row goes to the same partition
number as its event (both keyed by job_id); the job's context (name, queue, status, ...) is the
engine's store, on a changelog written in the row's transaction, so a crash neither loses nor
repeats a row, and a redelivered event (seq not above the context's) publishes nothing.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import MutableMapping

from confluent_kafka import Message

from jobstream.config import Settings
from jobstream.core.analytics import fold
from jobstream.infra.topics import Topics
from jobstream.schemas import JobContext, JobEvent, make_codec
from jobstream.streams import metrics
from jobstream.streams.engine import Batch, Engine, EngineConfig
from jobstream.streams.kafka_io import ensure_all_topics, ensure_specs
from jobstream.streams.record_serde import RecordSerde, decode_input

log = logging.getLogger(__name__)


class AnalyticsHandler:
    """The analytics projector as an engine ``Processor[JobContext]``."""

    def __init__(self, settings: Settings) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.codec = make_codec(settings.schema_registry_url)

    def handle(self, message: Message, batch: Batch[JobContext]) -> None:
        event = decode_input(self.codec, message, batch, self.topics.poison)
        if not isinstance(event, JobEvent):
            return
        partition, job_id = message.partition(), event.envelope.job_id
        folded = fold(batch.get(partition, job_id), event)  # type: ignore[arg-type]
        if folded is None:
            return
        context, row = folded
        topic = self.topics.analytics_job_events
        batch.send(topic, job_id.encode(), self.codec.encode(row, topic), partition)  # type: ignore[arg-type]
        batch.put(partition, job_id, context)  # type: ignore[arg-type]

    def handled(self, batch: Batch[JobContext]) -> None:
        pass

    def punctuate(self, batch: Batch[JobContext], owned: frozenset[int]) -> None:
        pass

    def committed(self) -> None:
        pass

    def aborted(self) -> None:
        pass

    def assigned(self, partition: int, table: MutableMapping[str, JobContext]) -> None:
        log.debug("analytics projector took partition %d: %d jobs", partition, len(table))

    def revoked(self, partition: int) -> None:
        pass


def engine_config(settings: Settings, instance_id: str | None) -> EngineConfig:
    topics = Topics(settings.topic_prefix)
    return EngineConfig(app_id=topics.analytics_app, input_topics=(topics.events,),
                        changelog_topic=topics.analytics_changelog, instance_id=instance_id)


def run_analytics_projector(settings: Settings, instance_id: str | None = None,
                            metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    ensure_all_topics(settings)
    topics = Topics(settings.topic_prefix)
    ensure_specs(settings, topics.analytics_specs(settings.partitions))
    codec = make_codec(settings.schema_registry_url)
    serde = RecordSerde(codec, JobContext, topics.analytics_changelog)
    engine = Engine(settings, engine_config(settings, instance_id), AnalyticsHandler(settings), serde)
    signal.signal(signal.SIGTERM, engine.stop)
    signal.signal(signal.SIGINT, engine.stop)
    raise SystemExit(engine.run())
