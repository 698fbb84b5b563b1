"""Two task functions. A worker started with ``--python-path examples/python_tasks`` imports them
as ``textstats.tasks:count_words`` and ``textstats.tasks:mean``."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from jobstream.worker.progress import report


def count_words(text: str, top: int = 3) -> dict[str, object]:
    """Words in ``text`` and the ``top`` most common ones; what it returns is the job's result."""
    words = re.findall(r"[a-z']+", text.lower())
    report(100, f"{len(words)} words counted")  # shows on the execution as its progress
    return {"words": len(words), "most_common": Counter(words).most_common(top)}


async def mean(*numbers: float) -> float:
    """A coroutine works too: awaited in the child process, or on the worker's loop when inline."""
    await asyncio.sleep(0)
    if not numbers:
        raise ValueError("mean of no numbers")
    return sum(numbers) / len(numbers)
