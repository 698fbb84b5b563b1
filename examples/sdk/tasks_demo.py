"""Submit the tasks of calc/tasks.py by calling ``.submit`` and wait for their results.

    PYTHONPATH=examples/sdk .venv/bin/python examples/sdk/tasks_demo.py
"""

from __future__ import annotations

import json

from calc.tasks import add, client, word_lengths

with client:
    jobs = [add.submit(1, 2), word_lengths.submit("kafka", "avro")]
    for job in jobs:
        done = client.wait(job.job_id, timeout_s=120)
        print(done.name, done.status, json.loads(done.result_json))
