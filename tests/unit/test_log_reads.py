"""A log follower stops at the end of an execution's output, never before: the logs projector may
commit the output between the reads of one request (the API's page, the dashboard's follower)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from jobstream.api import create_app
from jobstream.config import Settings
from jobstream.ui import live

AT = datetime(2026, 12, 4, tzinfo=UTC)


def chunk(seq: int, data: str = "", eof: bool = False) -> dict[str, Any]:
    return {"seq": seq, "stream": "" if eof else "stdout", "data": data, "at": AT, "truncated": False,
            "eof": eof, "dropped_bytes": 0}


class ProjectedBetweenReads:
    """A read model of a finished execution whose output (a line, then the eof marker) the logs
    projector commits just after the first read of its chunks, before anything else is read."""

    def __init__(self) -> None:
        self.table: list[dict[str, Any]] = []
        self.in_flight = [chunk(1, "hello\n"), chunk(2, eof=True)]

    async def log_chunks(self, _: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = [row for row in self.table if row["seq"] > after_seq][:limit]
        self.table, self.in_flight = self.table + self.in_flight, []
        return rows

    async def has_eof(self, _: str, through_seq: int) -> bool:
        return any(row["eof"] and row["seq"] <= through_seq for row in self.table)

    async def execution(self, _: str) -> dict[str, Any]:
        return {"status": "succeeded", "log_records": 2}


def test_a_page_read_before_the_output_landed_is_not_complete_and_the_next_one_has_it() -> None:
    app = create_app(Settings.from_env(), no_auth=True)
    app.state.context = SimpleNamespace(store=ProjectedBetweenReads())
    client = TestClient(app)  # its lifespan does not run: the read model is the one above
    first = client.get("/v1/executions/e-1.1/logs").json()
    assert (first["items"], first["complete"], first["finished"]) == ([], False, True), first
    second = client.get("/v1/executions/e-1.1/logs", params={"after_seq": first["next_after_seq"]}).json()
    assert [item["data"] for item in second["items"]] == ["hello\n", ""] and second["complete"], second


def test_the_dashboards_follower_reads_the_output_that_landed_between_its_reads() -> None:
    context: Any = SimpleNamespace(store=ProjectedBetweenReads())

    async def events() -> list[dict[str, Any]]:
        return [event async for event in live._log_follow(context, "e-1.1", 0)]

    followed = asyncio.run(asyncio.wait_for(events(), 10))
    assert [event["data"] for event in followed][0] == "hello\n" and followed[-1]["event"] == "end", followed
