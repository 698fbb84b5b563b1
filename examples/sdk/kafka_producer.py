"""Submit a job by producing its command straight to Kafka, then ask the API what became of it.

    .venv/bin/python examples/sdk/kafka_producer.py   # $JOBSTREAM_KAFKA_BOOTSTRAP, $JOBSTREAM_TOPIC_PREFIX
"""

from __future__ import annotations

from jobstream import Client, KafkaClient, shell
from jobstream.config import Settings

with KafkaClient.from_settings(Settings.from_env(), actor="billing-service") as producer:
    sent = producer.submit(shell("echo", "from kafka"), name="invoice")  # returns once acknowledged (acks=all)
print("sent", sent.job_id, sent.command_id)

with Client.from_env() as client:
    print("status", client.wait(sent.job_id, timeout_s=120).status)
