"""An engine that exits, fenced or not, closes its Kafka clients itself. A consumer left to the
interpreter's exit is destroyed after confluent-kafka cleared its callbacks, and its close then runs
inside that teardown: a fenced state processor once died there of "free(): invalid pointer"
(SIGABRT) instead of exiting with its code."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Producer

from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec
from jobstream.streams.engine.config import EngineConfig, engine_producer_config
from jobstream.streams.engine.loop import FATAL_EXIT_CODE, Engine
from jobstream.streams.kafka_io import ensure_specs
from tests.integration.engine_toys import DEADLINE_S, Utf8, WritesOnlyWhenAsked, send_values
from tests.integration.harness import poll


def test_a_fenced_engine_exits_with_its_code_and_its_clients_closed(test_settings: Settings,
                                                                     unique_name: str) -> None:
    config = EngineConfig(app_id=f"{unique_name}.app", input_topics=(f"{unique_name}.in",),
                          changelog_topic=f"{unique_name}.changelog", instance_id="one", punctuate_every_s=3600)
    ensure_specs(test_settings, [TopicSpec(f"{unique_name}.in", 1), TopicSpec(f"{unique_name}.out", 1),
                                 TopicSpec(f"{unique_name}.changelog", 1, {"cleanup.policy": "compact"})])
    processor = WritesOnlyWhenAsked(f"{unique_name}.out")
    engine: Engine[str] = Engine(test_settings, config, processor, Utf8())
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(engine.run()), daemon=True)
    thread.start()
    try:
        # Given an engine that has committed a transaction
        send_values(test_settings, config.input_topics[0], [b"write"])
        poll(lambda: processor.seen == 1, DEADLINE_S, "the engine handled the first message")
        # When a successor takes its transactional id (as one with the same instance id does)
        successor = Producer(engine_producer_config(test_settings, config, engine.transactional_id))
        successor.init_transactions(DEADLINE_S)
        send_values(test_settings, config.input_topics[0], [b"write"])
        thread.join(DEADLINE_S)
        # Then it exits fenced, its consumers closed by itself
        assert codes == [FATAL_EXIT_CODE]
        for client in (engine.consumer, engine.restorer):
            with pytest.raises(RuntimeError, match="closed"):
                client.assignment()
    finally:
        engine.stop()
        thread.join(30)
        poll(engine.liveness.stopped, DEADLINE_S, "the engine's liveness watch ends")
