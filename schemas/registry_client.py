"""Minimal Confluent Schema Registry client (register + lookup by id), cached both ways."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .errors import SchemaRegistryError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryClient:
    """Registers Avro schemas under subjects and fetches schemas by id.

    Schemas are immutable per id, so neither cache is ever invalidated.
    """

    def __init__(self, url: str, *, timeout_s: float = 10.0, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, headers={"Accept": CONTENT_TYPE})
        self._ids: dict[tuple[str, str], int] = {}  # (subject, schema json) -> id
        self._schemas: dict[int, str] = {}  # id -> schema json

    def register(self, subject: str, schema_json: str) -> int:
        """Id of `schema_json` under `subject`, registering it if new (idempotent server-side)."""
        key = (subject, schema_json)
        if key not in self._ids:
            path = f"/subjects/{quote(subject, safe='')}/versions"
            body = _json(self._send("POST", path, {"schema": schema_json}), "POST", path)
            schema_id = int(body["id"])
            self._ids[key] = schema_id
            self._schemas[schema_id] = schema_json
        return self._ids[key]

    def schema_by_id(self, schema_id: int) -> str | None:
        """Schema JSON for an id, or None if the registry does not know the id."""
        if schema_id not in self._schemas:
            path = f"/schemas/ids/{schema_id}"
            response = self._send("GET", path, None)
            if response.status_code == 404:
                return None
            body = _json(response, "GET", path)
            if body.get("schemaType", "AVRO") != "AVRO":
                raise SchemaRegistryError(f"schema id {schema_id} is {body['schemaType']}, not AVRO")
            self._schemas[schema_id] = str(body["schema"])
        return self._schemas[schema_id]

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, payload: dict[str, str] | None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=payload, headers={"Content-Type": CONTENT_TYPE})
        except httpx.HTTPError as exc:
            raise SchemaRegistryError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc


def _json(response: httpx.Response, method: str, path: str) -> dict[str, Any]:
    """Body of a successful response; anything else is a SchemaRegistryError."""
    if response.is_error:
        raise SchemaRegistryError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise SchemaRegistryError(f"{method} {path}: response is not JSON") from exc
    if not isinstance(body, dict):
        raise SchemaRegistryError(f"{method} {path}: unexpected response {body!r:.200}")
    return body
