"""``jobstream logs [-f] JOB_ID|EXECUTION_ID``: an execution's output through the HTTP API (a job's:
its latest execution's).

Without ``-f`` it prints what is there and stops; with ``-f`` it keeps polling until the log is
complete (its eof marker), or the execution has finished and no chunk came for ``grace`` seconds
(a worker that died never writes its eof).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import typer

from jobstream.api_client import Api, ApiClient, ApiUrl, ClientError, fail
from jobstream.sdk.flows import follow_done

__all__ = ["follow_done", "read_logs", "register_logs"]

PAGE = 1000
Write = Callable[[str, str], None]  # (stream, data)


def echo(stream: str, data: str) -> None:
    typer.echo(data, nl=False, err=stream == "stderr")


def read_logs(api: ApiClient, execution_id: str, *, follow: bool, after_seq: int = 0, poll_s: float = 0.5,
              grace_s: float = 30.0, write: Write = echo, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> int:
    """Print the chunks after ``after_seq`` (and, following, those still to come); returns the last seq read."""
    last_new = clock()
    while True:
        _, page = api.call("GET", f"/v1/executions/{execution_id}/logs", params={"after_seq": after_seq, "limit": PAGE})
        items = page.get("items", [])
        for item in items:
            write(item["stream"], item["data"])
        after_seq = int(page.get("next_after_seq", after_seq))
        if items:
            last_new = clock()
        if len(items) == PAGE:
            continue  # more is already there
        if not follow or follow_done(page, clock() - last_new, grace_s):
            return after_seq
        sleep(poll_s)  # the polling interval of a follower


def execution_to_read(api: ApiClient, job_or_execution_id: str) -> str:
    """A job's latest execution; anything that is not a job is taken for an execution id."""
    try:
        job = api.call("GET", f"/v1/jobs/{job_or_execution_id}")[1]
    except ClientError as error:
        if error.status == 404:
            return job_or_execution_id
        raise
    if not job.get("execution_id"):
        raise ClientError(f"job {job_or_execution_id} has not run yet (it is {job.get('status')})")
    return str(job["execution_id"])


def register_logs(app: typer.Typer, api: Api) -> None:
    @app.command("logs")
    def logs(job_or_execution_id: Annotated[str, typer.Argument(metavar="JOB_ID|EXECUTION_ID")],
             follow: Annotated[bool, typer.Option("--follow", "-f",
                                                  help="Keep printing until the execution ends")] = False,
             after_seq: Annotated[int, typer.Option(help="Start after this chunk")] = 0,
             api_url: ApiUrl = None) -> None:
        """Print an execution's stdout and stderr (and a large result); given a job, its latest execution's.
        E.g. `jobstream logs -f JOB_ID`."""
        client = api.client(api_url)
        try:
            read_logs(client, execution_to_read(client, job_or_execution_id), follow=follow, after_seq=after_seq)
        except ClientError as error:
            raise fail(error) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        finally:
            client.close()
