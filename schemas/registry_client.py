"""The two registry calls the codec needs (register a schema, fetch one by id), on confluent-kafka's
own ``SchemaRegistryClient``, which caches both ways; its errors become ours.

confluent-kafka's serializers are not used: they frame Avro themselves, and our codec writes the
bodies from the dataclasses (``schemas/binary.py``).
"""

from __future__ import annotations

from typing import NoReturn

from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentClient
from confluent_kafka.schema_registry.error import SchemaRegistryError as ConfluentError

from .errors import SchemaRegistryError

NOT_FOUND = 404


class SchemaRegistryClient:
    """Registers Avro schemas under subjects and fetches schemas by id (Confluent's REST API:
    Confluent Schema Registry, or Apicurio's ``/apis/ccompat/v7``)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        # No retries of its own: a SchemaRegistryError is transient, and the edges retry (retrying.py).
        self._client = ConfluentClient({"url": url.rstrip("/"), "timeout": timeout_s, "max.retries": 0})

    def register(self, subject: str, schema_json: str) -> int:
        """Id of `schema_json` under `subject`, registering it if new (idempotent server-side)."""
        try:
            return int(self._client.register_schema(subject, Schema(_registrable(schema_json), "AVRO")))
        except Exception as exc:  # noqa: BLE001 - transport or HTTP: the registry is unavailable
            _raise(f"POST /subjects/{subject}/versions", exc)

    def schema_by_id(self, schema_id: int) -> str | None:
        """Schema JSON for an id, or None if the registry does not know the id."""
        try:
            schema = self._client.get_schema(schema_id)
        except ConfluentError as exc:
            if exc.http_status_code == NOT_FOUND:
                return None
            _raise(f"GET /schemas/ids/{schema_id}", exc)
        except Exception as exc:  # noqa: BLE001
            _raise(f"GET /schemas/ids/{schema_id}", exc)
        if (schema.schema_type or "AVRO") != "AVRO":
            raise SchemaRegistryError(f"schema id {schema_id} is {schema.schema_type}, not AVRO")
        return str(schema.schema_str)

    def close(self) -> None:
        self._client.__exit__()


def _registrable(schema_json: str) -> str:
    """The same schema, its string "{}" (a JSON default, say) written with an escape: Apicurio 3.0
    refuses a schema whose text holds ``"{}"`` (422, "Failed to discover artifact type"). Outside a
    string token the text cannot hold a quote right after ``}``, so only such tokens change."""
    return schema_json.replace('"{}"', '"{\\u007d"')


def _raise(call: str, exc: Exception) -> NoReturn:
    status = getattr(exc, "http_status_code", None)
    detail = f"HTTP {status}: {exc}" if isinstance(status, int) and status > 0 else f"{type(exc).__name__}: {exc}"
    raise SchemaRegistryError(f"{call}: {detail}") from exc
