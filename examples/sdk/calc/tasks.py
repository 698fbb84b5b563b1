"""Tasks defined with ``@jobstream.task``: callers submit ``add.submit(1, 2)``, and a worker started
with ``--python-path examples/sdk`` runs ``calc.tasks:add``. The client is built here, explicitly,
from ``JOBSTREAM_API_URL``; importing this module (as the worker does) sends nothing."""

from __future__ import annotations

import jobstream

client = jobstream.Client.from_env()


@jobstream.task(client, queue="examples")
def add(a: int, b: int) -> int:
    return a + b


@jobstream.task(client, queue="examples", isolation="inline", retry={"max_attempts": 2})
async def word_lengths(*words: str) -> dict[str, int]:
    return {word: len(word) for word in words}
