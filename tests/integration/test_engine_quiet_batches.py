"""A batch that writes nothing commits no transaction; its offsets ride with the next one.

A transaction costs the broker about fifteen plain produce requests, and many batches of the
dispatcher (credits with nothing to match) and of the state processor (commands that decide
nothing) have nothing to make atomic. Their offsets are committed by the next transaction that
writes, so nothing is consumed twice by a live process, and what a crash makes it read again
again changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec
from jobstream.streams.engine.config import EngineConfig
from jobstream.streams.engine.loop import Engine
from jobstream.streams.kafka_io import consumer_config, ensure_specs
from tests.integration.engine_toys import DEADLINE_S, Utf8, WritesOnlyWhenAsked, send_values
from tests.integration.harness import poll

EngineRun = tuple[Engine[str], WritesOnlyWhenAsked, EngineConfig]


@pytest.fixture
def start_engine(test_settings: Settings, unique_name: str) -> Iterator[Callable[[float], EngineRun]]:
    """Starts one engine (punctuating every so many seconds) on topics of its own."""
    running: list[tuple[Engine[str], threading.Thread]] = []

    def start(punctuate_every_s: float) -> EngineRun:
        name = unique_name
        config = EngineConfig(app_id=f"{name}.app", input_topics=(f"{name}.in",),
                              changelog_topic=f"{name}.changelog", instance_id="one",
                              punctuate_every_s=punctuate_every_s)
        ensure_specs(test_settings, [TopicSpec(f"{name}.in", 1), TopicSpec(f"{name}.out", 1),
                                     TopicSpec(f"{name}.changelog", 1, {"cleanup.policy": "compact"})])
        processor = WritesOnlyWhenAsked(f"{name}.out")
        engine: Engine[str] = Engine(test_settings, config, processor, Utf8())
        thread = threading.Thread(target=engine.run, daemon=True)
        thread.start()
        running.append((engine, thread))
        return engine, processor, config

    yield start
    for engine, thread in running:
        engine.stop()
        thread.join(30)
        # its watch ends with it: left running, it would end this test process a minute later
        poll(engine.liveness.stopped, DEADLINE_S, "the engine's liveness watch ends")


def _committed(settings: Settings, config: EngineConfig) -> int:
    consumer = Consumer(consumer_config(settings, config.app_id))
    try:
        [partition] = consumer.committed([TopicPartition(config.input_topics[0], 0)], timeout=10)
        return int(partition.offset)
    finally:
        consumer.close()


def _transactions(config: EngineConfig) -> float:
    return REGISTRY.get_sample_value("jobstream_engine_transactions_total", {"app": config.app_id}) or 0.0


def test_a_batch_that_writes_nothing_commits_nothing_until_one_writes(
        test_settings: Settings, start_engine: Callable[[float], EngineRun]) -> None:
    _, processor, config = start_engine(3600)  # no punctuation commits offsets here
    send_values(test_settings, config.input_topics[0], [b"ignore"] * 3)
    poll(lambda: processor.seen == 3, DEADLINE_S, "the engine handled the three ignored messages")

    assert _transactions(config) == 0
    assert _committed(test_settings, config) < 0  # no offset committed for the group yet

    send_values(test_settings, config.input_topics[0], [b"write"])
    poll(lambda: processor.seen == 4, DEADLINE_S, "the engine handled the message that writes")
    poll(lambda: _committed(test_settings, config) == 4, DEADLINE_S,
         "the write's transaction commits all four offsets", interval_s=0.5)  # each look is a new consumer
    assert _transactions(config) == 1


def test_a_punctuation_commits_what_quiet_batches_left_and_nothing_when_there_is_none(
        test_settings: Settings, start_engine: Callable[[float], EngineRun]) -> None:
    _, processor, config = start_engine(0.2)
    send_values(test_settings, config.input_topics[0], [b"ignore"] * 3)
    poll(lambda: _committed(test_settings, config) == 3, DEADLINE_S,
         "a punctuation commits the quiet batches' offsets", interval_s=0.5)
    punctuated = processor.punctuations
    poll(lambda: processor.punctuations >= punctuated + 3, DEADLINE_S, "three more punctuations")
    assert _transactions(config) == 1  # the idle punctuations committed nothing
