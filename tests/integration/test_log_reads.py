"""The API's reads of an execution's log against the real Postgres, as the unit tests' read model
(tests/unit/test_log_reads.py) assumes them: chunks after a cursor in order, and an eof marker that
counts only for a reader who has read up to it."""

from __future__ import annotations

import asyncio

from jobstream.api.store import ReadModel, make_pool
from jobstream.clock import utcnow
from jobstream.projections.logs import chunk_row, ensure_logs_schema, write_chunks
from jobstream.projections.schema import connect
from jobstream.schemas import LogChunk


def chunk(seq: int, data: str = "", eof: bool = False) -> LogChunk:
    return LogChunk(execution_id="e-1.1", job_id="e-1", attempt=1, worker_id="w", seq=seq,
                    stream="" if eof else "stdout", data=data, at=utcnow(), eof=eof)


def test_the_eof_marker_counts_only_through_the_seq_a_reader_has_read(database_url: str, unique_name: str) -> None:
    conn = connect(database_url, unique_name)
    ensure_logs_schema(conn, unique_name)
    write_chunks(conn, [chunk_row(chunk(1, "hello\n")), chunk_row(chunk(2, eof=True))], {})
    conn.close()

    async def reads() -> tuple[list[int], list[bool]]:
        pool = make_pool(database_url)
        await pool.open()
        try:
            store = ReadModel(pool, unique_name)
            seqs = [row["seq"] for row in await store.log_chunks("e-1.1", 0, 10)]
            return seqs, [await store.has_eof("e-1.1", through) for through in (0, 1, 2, 3)]
        finally:
            await pool.close()

    assert asyncio.run(reads()) == ([1, 2], [False, False, True, True])
