"""API keys at the edge: create and revoke them on the keys topic, read the topic back into a table.

Whoever runs these reaches the broker directly (an operator of the deployment, or ``jobstream
run`` on first start); the API only reads the topic (api/keyring.py).
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from jobstream.config import Settings
from jobstream.core.access import Role
from jobstream.core.keys import Key, NewToken, fold_key, new_token
from jobstream.core.quotas import merged_quota
from jobstream.infra.topics import Topics
from jobstream.schemas import DEFAULT_NAMESPACE, KeyCreated, KeyRevoked, QuotaSet, Record, make_codec
from jobstream.streams.kafka_io import Publisher, consumer_config, end_offset, ensure_specs

FLUSH_S = 30.0
READ_S = 60.0


def operator_actor() -> str:
    """Who runs the command: ``cli:<user>@<host>``."""
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def create_key(settings: Settings, namespace: str, role: Role, now: datetime, *, name: str = "",
               expires_in: timedelta | None = None, actor: str | None = None,
               worker_id: str | None = None) -> tuple[NewToken, KeyCreated]:
    """A new key on the keys topic (acknowledged); its token is returned once and stored nowhere.
    ``worker_id``: a worker key that may act as that worker only."""
    token = new_token(os.urandom(40))
    record = KeyCreated(key_id=token.key_id, namespace=namespace, role=role.value, name=name,
                        secret_hash=PasswordHasher().hash(token.secret), created_at=now,
                        expires_at=now + expires_in if expires_in else None, actor=actor or operator_actor(),
                        worker_id=worker_id)
    _publish(settings, token.key_id, record)
    return token, record


def revoke_key(settings: Settings, key_id: str, now: datetime, actor: str | None = None) -> KeyRevoked:
    record = KeyRevoked(key_id=key_id, revoked_at=now, actor=actor or operator_actor())
    _publish(settings, key_id, record)
    return record


def read_keys(settings: Settings) -> dict[str, Key]:
    """Every key the topic holds, as of now (a fold from its start to its end)."""
    keys: dict[str, Key] = {}
    for record in _read_records(settings):
        if isinstance(record, KeyCreated | KeyRevoked):
            fold_key(keys, record)
    return keys


def _read_records(settings: Settings) -> list[Record]:
    return read_to_end(settings, Topics(settings.topic_prefix).keys)


def read_to_end(settings: Settings, topic: str) -> list[Record]:
    """A one-partition topic of records (keys, secrets) from its start to its end now."""
    _ensured(settings, topic)
    records: list[Record] = []
    codec = make_codec(settings.schema_registry_url)
    consumer = Consumer(consumer_config(settings, "jobstream-admin-reader"))
    try:
        partition = TopicPartition(topic, 0, OFFSET_BEGINNING)
        end = end_offset(consumer, partition)
        consumer.assign([partition])
        position, deadline = 0, time.monotonic() + READ_S
        while position < end:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} to its end within {READ_S:.0f}s")
            for message in consumer.consume(500, 1.0):
                if message.error() is None:
                    position = (message.offset() or 0) + 1
                    if message.value() is not None:  # a tombstone of a compacted topic holds nothing
                        records.append(codec.decode(message.value(), topic=message.topic(), partition=0,
                                                    offset=message.offset()))
    finally:
        consumer.close()
    return records


def _publish(settings: Settings, key: str, record: Record) -> None:
    publish_acknowledged(settings, Topics(settings.topic_prefix).keys, [(key, record)])


def publish_acknowledged(settings: Settings, topic: str, records: list[tuple[str, Record]]) -> None:
    """Records on ``topic`` (keys, secrets), in order; returns once the broker acknowledged them all."""
    _ensured(settings, topic)
    publisher = Publisher(settings)
    for key, record in records:
        publisher.publish(topic, key, record)
    if publisher.flush(FLUSH_S):
        raise RuntimeError(f"the broker did not acknowledge the records on {topic} within {FLUSH_S:.0f}s")


def _ensured(settings: Settings, topic: str) -> None:
    topics = Topics(settings.topic_prefix)
    ensure_specs(settings, [s for s in topics.specs(settings.partitions) if s.name == topic])


def ensure_admin_key(settings: Settings, now: datetime) -> str | None:
    """``jobstream run``'s first start: an admin key of the default namespace in the credentials
    file for ``settings.api_url``, unless the file already holds one the topic still accepts.
    Returns the new key's id, or None when the one on file is kept."""
    from jobstream.core.keys import parse_token, refusal
    from jobstream.credentials import read_tokens, save_token

    current = parse_token(read_tokens(settings.credentials_file).get(settings.api_url.rstrip("/"), ""))
    if current is not None and refusal(read_keys(settings).get(current.key_id), now) is None:
        return None
    token, record = create_key(settings, DEFAULT_NAMESPACE, Role.ADMIN, now, name="jobstream run")
    save_token(settings.credentials_file, settings.api_url, token.token)
    return record.key_id


def set_quota(settings: Settings, namespace: str, now: datetime, *, submit_rate: float | None = None,
              max_in_flight: int | None = None, allow_shell: bool | None = None,
              actor: str | None = None) -> QuotaSet:
    """A namespace's quotas: what is given, the rest as last set. Every API folds the rate, every
    dispatcher the in-flight cap, every API and state processor the shell switch."""
    record = merged_quota(read_quotas(settings).get(namespace), namespace, now, actor or operator_actor(),
                          submit_rate=submit_rate, max_in_flight=max_in_flight, allow_shell=allow_shell)
    _publish(settings, f"quota:{namespace}", record)
    return record


def read_quotas(settings: Settings) -> dict[str, QuotaSet]:
    """The last quotas set for each namespace."""
    return {q.namespace: q for q in _read_records(settings) if isinstance(q, QuotaSet)}
