"""``jobstream.KafkaClient``: commands produced straight to the commands topic, for services that
skip HTTP. The same codec (Avro, single-object or Confluent's format), the same murmur2 keying by
job id and the same durable producer (acks=all, idempotent) as the API; each call returns once the
broker has acknowledged its command, and raises if it did not.

What became of a command is then asked by its id (``GET /v1/commands/{id}``), since nothing here
reads the read model: a command can still be rejected (say, a job id submitted before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message
from pydantic import ValidationError

from jobstream.api.models import JobSubmission
from jobstream.config import Settings
from jobstream.core.ids import job_id_for_idempotency_key
from jobstream.core.validation import validate_spec
from jobstream.schemas import CancelJob, Command, SubmitJob
from jobstream.sdk.errors import ClientError
from jobstream.sdk.flows import submission
from jobstream.streams.kafka_io import Publisher, command_envelope


@dataclass(frozen=True)
class Sent:
    """A command the broker acknowledged: ``GET /v1/commands/{command_id}`` says what became of it."""

    job_id: str
    command_id: str
    partition: int
    offset: int


class KafkaClient:
    """Produces ``SubmitJob`` and ``CancelJob`` commands as ``actor`` (who sent them, in the job's trail)."""

    def __init__(self, bootstrap_servers: str, *, topic_prefix: str = "jobstream", actor: str = "sdk",
                 schema_registry_url: str | None = None, delivery_timeout_s: float = 30.0,
                 settings: Settings | None = None) -> None:
        """``settings``: the rest (how to authenticate, docs/security.md) if not the environment's."""
        settings = (settings or Settings.from_env()).with_(external_kafka=bootstrap_servers, topic_prefix=topic_prefix,
                                                           schema_registry_url=schema_registry_url)
        self.actor, self.delivery_timeout_s = actor, delivery_timeout_s
        self._publisher = Publisher(settings)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> KafkaClient:
        """A client of the broker, topics and registry the ``JOBSTREAM_*`` settings name."""
        return cls(settings.kafka_bootstrap, topic_prefix=settings.topic_prefix,
                   schema_registry_url=settings.schema_registry_url, settings=settings, **options)

    def submit(self, task: Mapping[str, Any], *, name: str | None = None, idempotency_key: str | None = None,
               **fields: Any) -> Sent:
        """Submit a job (the body of ``POST /v1/jobs``, checked the same way) and wait for the broker."""
        body = submission(task, name=name, idempotency_key=idempotency_key, **fields)
        try:
            submitted = JobSubmission.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            raise ClientError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        spec = submitted.to_spec()
        problems = validate_spec(spec)
        if problems:
            raise ClientError("; ".join(f"{field}: {problem}" for field, problem in problems))
        job_id = job_id_for_idempotency_key(body["idempotency_key"])  # a retried call names the same job
        return self._send(SubmitJob(envelope=command_envelope(SubmitJob, job_id, self.actor), spec=spec))

    def cancel(self, job_id: str, reason: str = "cancelled") -> Sent:
        return self._send(CancelJob(envelope=command_envelope(CancelJob, job_id, self.actor), reason=reason))

    def close(self) -> None:
        self._publisher.flush(self.delivery_timeout_s)

    def __enter__(self) -> KafkaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, command: Command) -> Sent:
        outcome: list[tuple[KafkaError | None, Message]] = []
        self._publisher.send_command(command, on_delivery=lambda error, message: outcome.append((error, message)))
        self._publisher.flush(self.delivery_timeout_s)
        if not outcome:
            raise ClientError(f"{command.short_name()} not acknowledged within {self.delivery_timeout_s:g} s")
        error, message = outcome[0]
        if error is not None:
            raise ClientError(f"{command.short_name()} not delivered: {error}")
        return Sent(command.envelope.job_id, command.envelope.command_id, message.partition() or 0,
                    message.offset() or 0)
