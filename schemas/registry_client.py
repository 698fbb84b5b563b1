"""Minimal Confluent Schema Registry client (register + lookup by id), cached both ways."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from .errors import SchemaRegistryError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryClient:
    """Registers Avro schemas under subjects and fetches schemas by id.

    Schemas are immutable per id, so both caches are never invalidated.
    """

    def __init__(self, url: str, *, timeout_s: float = 10.0, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, headers={"Accept": CONTENT_TYPE})
        self._ids: dict[tuple[str, str], int] = {}  # (subject, schema json) -> id
        self._schemas: dict[int, str] = {}  # id -> schema json

    def register(self, subject: str, schema_json: str) -> int:
        """Id of `schema_json` under `subject`, registering it if new (idempotent server-side)."""
        key = (subject, schema_json)
        if key not in self._ids:
            body = self._request("POST", f"/subjects/{quote(subject, safe='')}/versions", {"schema": schema_json})
            schema_id = int(body["id"])
            self._ids[key] = schema_id
            self._schemas[schema_id] = schema_json
        return self._ids[key]

    def schema_by_id(self, schema_id: int) -> str | None:
        """Schema JSON for an id, or None if the registry does not know the id."""
        if schema_id not in self._schemas:
            body = self._request("GET", f"/schemas/ids/{schema_id}", None, missing_ok=True)
            if body is None:
                return None
            if body.get("schemaType", "AVRO") != "AVRO":
                raise SchemaRegistryError(f"schema id {schema_id} is {body['schemaType']}, not AVRO")
            self._schemas[schema_id] = str(body["schema"])
        return self._schemas[schema_id]

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, payload: dict[str, str] | None, missing_ok: bool = False) -> dict | None:
        try:
            response = self._http.request(method, path, json=payload, headers={"Content-Type": CONTENT_TYPE})
        except httpx.HTTPError as exc:
            raise SchemaRegistryError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.is_error:
            raise SchemaRegistryError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        try:
            body: dict = response.json()
        except ValueError as exc:
            raise SchemaRegistryError(f"{method} {path}: response is not JSON") from exc
        return body
