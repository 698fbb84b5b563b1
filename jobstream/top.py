"""``jobstream top``: a live terminal view of queues, workers and recent jobs, refreshed from the API.

``frame`` is pure (the API's answers in, a rich renderable out), so what the view shows is tested
without a terminal; the command polls the API every ``--interval`` seconds under ``rich.live``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from jobstream.api_client import Api, ApiClient, ApiUrl, ClientError, fail
from jobstream.tables import build_table

ACTIVE = ("queued", "running")
RECENT = 15
PAGE = 500


@dataclass(frozen=True)
class Snapshot:
    workers: Sequence[dict[str, Any]]  # live ones
    active_jobs: Sequence[dict[str, Any]]  # queued and running (up to a page of each)
    recent_jobs: Sequence[dict[str, Any]]
    at: str


def queue_rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Per queue: jobs queued and running, live workers serving it and their free slots."""
    counts = Counter((str(job.get("queue")), job.get("status")) for job in snapshot.active_jobs)
    queues = sorted({q for q, _ in counts} | {q for w in snapshot.workers for q in w.get("queues") or []})
    rows = []
    for queue in queues:
        serving = [w for w in snapshot.workers if queue in (w.get("queues") or [])]
        rows.append({"queue": queue, "queued": counts[(queue, "queued")], "running": counts[(queue, "running")],
                     "workers": len(serving), "free_slots": sum(int(w.get("free_slots") or 0) for w in serving),
                     "slots": sum(int(w.get("slots") or 0) for w in serving)})
    return rows


def frame(snapshot: Snapshot) -> Group:
    slots = sum(int(w.get("slots") or 0) for w in snapshot.workers)
    used = slots - sum(int(w.get("free_slots") or 0) for w in snapshot.workers)
    header = Text(f"jobstream top · {snapshot.at} · {len(snapshot.workers)} live workers · "
                  f"{used}/{slots} slots used · Ctrl-C to quit", style="bold")
    queues = build_table(queue_rows(snapshot), ("queue", "queued", "running", "workers", "free_slots", "slots"))
    workers = build_table(list(snapshot.workers), ("worker_id", "status", "queues", "slots", "free_slots",
                                                   "last_heartbeat_at"))
    recent = build_table(list(snapshot.recent_jobs), ("job_id", "name", "status", "queue", "submitted_at"))
    for table, title in ((queues, "queues"), (workers, "workers"), (recent, "recent jobs")):
        table.title, table.title_justify = title, "left"
    return Group(header, queues, workers, recent)


def snapshot_of(api: ApiClient, clock: Callable[[], time.struct_time] = time.gmtime) -> Snapshot:
    def items(path: str, **params: Any) -> list[dict[str, Any]]:
        return list(api.call("GET", path, params=params)[1].get("items", []))

    active = [job for status in ACTIVE for job in items("/v1/jobs", status=status, limit=PAGE)]
    return Snapshot(workers=items("/v1/workers", status="active", limit=PAGE), active_jobs=active,
                    recent_jobs=items("/v1/jobs", limit=RECENT), at=time.strftime("%H:%M:%SZ", clock()))


def register_top(app: typer.Typer, api: Api) -> None:
    @app.command("top")
    def top(interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes")] = 2.0,
            once: Annotated[bool, typer.Option("--once", help="Print one view and exit")] = False,
            api_url: ApiUrl = None) -> None:
        """A live view of queues, workers and recent jobs."""
        client = api.client(api_url)
        try:
            if once:
                Console().print(frame(snapshot_of(client)))
                return
            with Live(frame(snapshot_of(client)), refresh_per_second=4, screen=False) as live:
                while True:
                    time.sleep(interval)  # the refresh period of a live view
                    live.update(frame(snapshot_of(client)))
        except ClientError as error:
            raise fail(error) from None
        except KeyboardInterrupt:
            pass
        finally:
            client.close()
