"""``jobstream explain JOB_ID``: gathers what the API knows about a job and its queue, then lets the
pure ``jobstream.explain`` say why it has not run."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from jobstream.api_client import Api, ApiClient, ApiUrl, ClientError, Format, Output, fail
from jobstream.config import Settings
from jobstream.core.dispatch import parse_queue_limits
from jobstream.explain import Evidence, Row, explain
from jobstream.tables import print_data

PAGE = 500


def _items(api: ApiClient, path: str, **params: Any) -> list[dict[str, Any]]:
    return list(api.call("GET", path, params={"limit": PAGE, **params})[1].get("items", []))


def _job_or_none(api: ApiClient, job_id: str) -> Row | None:
    try:
        return api.call("GET", f"/v1/jobs/{job_id}")[1]
    except ClientError as error:
        if error.status == 404:
            return None
        raise


def gather(api: ApiClient, job_id: str, queue_limits: dict[str, int]) -> Evidence:
    """The job, its events, and what its status makes relevant: upstreams, or its queue's workers and load."""
    job = api.call("GET", f"/v1/jobs/{job_id}")[1]
    events = api.call("GET", f"/v1/jobs/{job_id}/events")[1].get("items", [])
    if job.get("status") == "pending":
        depends_on = (job.get("spec") or {}).get("depends_on") or []
        upstreams = {str(d["job_id"]): _job_or_none(api, str(d["job_id"])) for d in depends_on}
        return Evidence(job, events, upstreams=upstreams)
    if job.get("status") != "queued":
        return Evidence(job, events)
    queue = str(job.get("queue"))
    workers = [w for w in _items(api, "/v1/workers", status="active") if queue in (w.get("queues") or [])]
    queued = _items(api, "/v1/jobs", queue=queue, status="queued")
    ahead = sum(1 for other in queued if str(other.get("submitted_at")) < str(job.get("submitted_at")))
    return Evidence(job, events, workers=workers, running_in_queue=len(_items(api, "/v1/jobs", queue=queue,
                                                                                status="running")),
                    queue_limit=queue_limits.get(queue), ahead_in_queue=ahead)


def register_explain(app: typer.Typer, api: Api) -> None:
    @app.command("explain")
    def explain_job(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Say in one paragraph why a job has not run: upstreams, schedule, pause, queue limit, no fitting
        or free worker; or what became of it."""
        client = api.client(api_url)
        try:
            evidence = gather(client, job_id, parse_queue_limits(Settings.from_env().queue_limits))
        except ClientError as error:
            raise fail(error) from None
        finally:
            client.close()
        paragraph = explain(evidence)
        if output != Format.TABLE:
            print_data({"job_id": job_id, "status": evidence.job.get("status"), "explanation": paragraph}, output)
        else:
            Console().print(Text(paragraph))
