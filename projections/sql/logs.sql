-- Executions' output, projected from the logs topic by `jobstream logs-projector` (projections/logs.py).
-- Its positions in the logs topic live in projection_offsets (schema.sql), written in the same transaction.

CREATE TABLE IF NOT EXISTS execution_logs (
    execution_id  text NOT NULL,
    seq           bigint NOT NULL,               -- from 1, gap-free per execution
    job_id        text NOT NULL,
    attempt       int NOT NULL,
    stream        text NOT NULL,                 -- stdout|stderr|result ('' on the eof marker)
    data          text NOT NULL,
    at            timestamptz NOT NULL,
    truncated     boolean NOT NULL DEFAULT false,
    eof           boolean NOT NULL DEFAULT false,
    dropped_bytes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (execution_id, seq)
);
-- The retention purge deletes the oldest chunks first (projections/log_retention.py).
CREATE INDEX IF NOT EXISTS execution_logs_at ON execution_logs (at);
