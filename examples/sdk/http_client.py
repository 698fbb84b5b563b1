"""The HTTP API from Python: submit, wait (long-polled), read the output, list, batch and cancel.

    .venv/bin/python examples/sdk/http_client.py      # against $JOBSTREAM_API_URL
"""

from __future__ import annotations

import asyncio

import jobstream
from jobstream import Client, shell


def main() -> None:
    with Client.from_env() as client:
        job = client.submit(shell("echo", "hello from the sdk"), name="hello", labels={"example": "sdk"})
        done = client.wait(job.job_id, timeout_s=120)
        output = "".join(chunk.data for chunk in client.logs(job.job_id, follow=True))
        print(done.status, output.strip())

        batch = client.submit_batch([
            {"ref": "extract", "name": "extract", "task": shell("true"), "labels": {"example": "sdk"}},
            {"ref": "load", "name": "load", "task": shell("true"), "labels": {"example": "sdk"},
             "depends_on": [{"ref": "extract"}]},
        ])
        print("load", client.wait(batch.refs["load"], timeout_s=120).status)

        sleeper = client.submit(shell("sleep", "600"), name="sleeper", labels={"example": "sdk"})
        print("sleeper", client.cancel(sleeper.job_id, reason="example").status)
        print("listed", sum(1 for _ in client.list(labels={"example": "sdk"}, page_size=2)))


async def main_async() -> None:
    async with jobstream.AsyncClient.from_env() as client:
        jobs = await asyncio.gather(*(client.submit(shell("echo", str(n)), name=f"async-{n}") for n in range(3)))
        finished = await asyncio.gather(*(client.wait(job.job_id, timeout_s=120) for job in jobs))
        print("async", sorted(job.status for job in finished))


if __name__ == "__main__":
    main()
    asyncio.run(main_async())
