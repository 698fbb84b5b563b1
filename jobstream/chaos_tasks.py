"""The chaos bench's Python task: it writes one ledger line each time it actually runs, so that
runs the events do not show (a worker killed after its task ran) are counted too."""

from __future__ import annotations

import os


def record(ledger: str, job_id: str) -> int:
    """Append ``job_id execution`` to ``ledger`` (one short O_APPEND write: lines never interleave)."""
    execution = os.environ.get("JOBSTREAM_EXECUTION_ID", "inline")
    with open(ledger, "a") as out:
        out.write(f"{job_id} {execution}\n")
    return 0
