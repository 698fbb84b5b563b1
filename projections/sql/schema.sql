-- The read model. Derived from the events and workers topics; `jobstream replay` rebuilds it.
-- Tables live in one Postgres schema (search_path), so that tests and replays can use their own.

CREATE TABLE IF NOT EXISTS jobs (
    job_id          text PRIMARY KEY,
    seq             bigint NOT NULL,              -- last applied event's per-job sequence number
    name            text,
    queue           text,
    priority        int,
    status          text,                         -- pending|scheduled|queued|assigned|running|completed|failed|cancelled|paused
    spec            jsonb,                        -- the submitted JobSpec, as JSON
    labels          jsonb NOT NULL DEFAULT '{}',
    idempotency_key text,
    attempt         int NOT NULL DEFAULT 0,
    tries           int NOT NULL DEFAULT 0,
    execution_id    text,
    worker_id       text,
    exit_code       int,
    last_error      text,
    result_json     text,
    next_run_at     timestamptz,
    submitted_at    timestamptz,
    queued_at       timestamptz,
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL,
    parent_job_id   text,                         -- set on the runs of a recurring job
    runs            int NOT NULL DEFAULT 0,       -- a recurring job's runs fired so far
    namespace       text NOT NULL DEFAULT 'default',
    submitted_by    text                          -- the submission's actor
);
-- Added with recurring schedules; ADD COLUMN IF NOT EXISTS upgrades an older read model in place.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS parent_job_id text;      -- set on the runs of a recurring job
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS runs int NOT NULL DEFAULT 0;  -- a recurring job's runs fired
-- Added with namespaces (a replay fills them in): the job's namespace, and who submitted it.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS namespace text NOT NULL DEFAULT 'default';
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS submitted_by text;
CREATE INDEX IF NOT EXISTS jobs_namespace_idx ON jobs (namespace, job_id);
CREATE INDEX IF NOT EXISTS jobs_parent_idx ON jobs (parent_job_id, job_id) WHERE parent_job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status_idx ON jobs (status, job_id);
CREATE INDEX IF NOT EXISTS jobs_queue_idx ON jobs (queue, job_id);
CREATE INDEX IF NOT EXISTS jobs_name_idx ON jobs (name, job_id);

-- The lists at volume (GET /v1/jobs, the dashboard; docs/architecture.md has the figures at 1,000,000
-- jobs): a namespace's jobs newest submitted first, alone or after one equality filter, as their
-- keyset pages read them (api/store.py: SUBMITTED), and the filters the planner cannot walk that
-- order for (labels, a name prefix). A list never uses OFFSET.
CREATE INDEX IF NOT EXISTS jobs_submitted_idx ON jobs (namespace, (COALESCE(submitted_at, '-infinity'::timestamptz)), job_id);
CREATE INDEX IF NOT EXISTS jobs_status_submitted_idx
    ON jobs (namespace, status, (COALESCE(submitted_at, '-infinity'::timestamptz)), job_id);
CREATE INDEX IF NOT EXISTS jobs_queue_submitted_idx
    ON jobs (namespace, queue, (COALESCE(submitted_at, '-infinity'::timestamptz)), job_id);
CREATE INDEX IF NOT EXISTS jobs_priority_submitted_idx
    ON jobs (namespace, priority, (COALESCE(submitted_at, '-infinity'::timestamptz)), job_id);
CREATE INDEX IF NOT EXISTS jobs_name_prefix_idx ON jobs (namespace, name COLLATE "C");
CREATE INDEX IF NOT EXISTS jobs_labels_idx ON jobs USING gin (labels jsonb_path_ops);
-- A schedule's latest run (the schedules page), and GET /v1/jobs?parent_job_id=, in submission order.
CREATE INDEX IF NOT EXISTS jobs_parent_submitted_idx
    ON jobs (parent_job_id, (COALESCE(submitted_at, '-infinity'::timestamptz)), job_id) WHERE parent_job_id IS NOT NULL;
DROP INDEX IF EXISTS jobs_parent_idx;  -- (parent_job_id, job_id): the index above serves its reads
-- The schedules page: jobs with a schedule, by name (their runs have none of their own).
CREATE INDEX IF NOT EXISTS jobs_schedules_idx ON jobs (namespace, name, job_id)
    WHERE parent_job_id IS NULL AND jsonb_typeof(spec->'schedule') = 'object';
-- The overview: each queue's oldest waiting job, and the chart of the last hour's finished jobs.
CREATE INDEX IF NOT EXISTS jobs_queued_idx ON jobs (namespace, queue, queued_at) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS jobs_finished_idx ON jobs (namespace, finished_at) WHERE finished_at IS NOT NULL;

-- How many jobs each namespace has by status and queue ('' for none): the overview's counts
-- without reading a million rows. Kept by the statement triggers below in the transaction that
-- changes jobs, so a replay, which rebuilds jobs, rebuilds the counts with them.
CREATE TABLE IF NOT EXISTS job_counts (
    namespace text NOT NULL,
    status    text NOT NULL,
    queue     text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (namespace, status, queue)
);
CREATE OR REPLACE FUNCTION job_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One upsert per statement (a projector's batch is one), the counters in key order so that
    -- concurrent writers lock them in the same order; a row whose counted fields stay is -1 +1: no write.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_counts AS c (namespace, status, queue, n)
        SELECT namespace, COALESCE(status, ''), COALESCE(queue, ''), count(*) FROM new_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (namespace, status, queue) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO job_counts AS c (namespace, status, queue, n)
        SELECT namespace, status, queue, sum(d) FROM (
            SELECT namespace, COALESCE(status, '') AS status, COALESCE(queue, '') AS queue, -1 AS d FROM old_rows
            UNION ALL SELECT namespace, COALESCE(status, ''), COALESCE(queue, ''), 1 FROM new_rows) AS delta
        GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (namespace, status, queue) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        INSERT INTO job_counts AS c (namespace, status, queue, n)
        SELECT namespace, COALESCE(status, ''), COALESCE(queue, ''), -count(*) FROM old_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (namespace, status, queue) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
CREATE OR REPLACE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
CREATE OR REPLACE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
-- A read model made before the counts: count what is there, once (in this transaction, which the
-- triggers' creation made the only writer of jobs).
INSERT INTO job_counts (namespace, status, queue, n)
SELECT namespace, COALESCE(status, ''), COALESCE(queue, ''), count(*) FROM jobs
WHERE NOT EXISTS (SELECT 1 FROM job_counts) GROUP BY 1, 2, 3;

CREATE TABLE IF NOT EXISTS executions (
    execution_id     text PRIMARY KEY,
    job_id           text NOT NULL,
    attempt          int NOT NULL,
    worker_id        text,
    status           text NOT NULL,               -- queued|assigned|running|succeeded|failed|timed_out|cancelled|lost
    queued_at        timestamptz,
    assigned_at      timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    exit_code        int,
    error            text,
    stdout_tail      text,
    stderr_tail      text,
    result_json      text,
    duration_ms      bigint,
    progress_percent double precision,
    progress_message text,
    log_records      int                          -- on the logs topic, as its worker said (0: no output, no eof)
);
CREATE INDEX IF NOT EXISTS executions_job_idx ON executions (job_id, attempt);
CREATE INDEX IF NOT EXISTS executions_worker_idx ON executions (worker_id, execution_id);
-- Added when silent executions stopped writing an eof: upgrades an older read model in place.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS log_records int;

CREATE TABLE IF NOT EXISTS workers (
    worker_id         text PRIMARY KEY,
    seq               bigint NOT NULL,
    status            text NOT NULL,              -- active|draining|lost|deregistered
    hostname          text,
    pid               int,
    queues            jsonb NOT NULL DEFAULT '[]',
    slots             int,
    cpu               double precision,
    memory_mb         bigint,
    labels            jsonb NOT NULL DEFAULT '{}',
    running           jsonb NOT NULL DEFAULT '[]',
    free_slots        int,
    registered_at     timestamptz,
    last_heartbeat_at timestamptz,
    updated_at        timestamptz NOT NULL,
    namespace         text NOT NULL DEFAULT 'default'
);
ALTER TABLE workers ADD COLUMN IF NOT EXISTS namespace text NOT NULL DEFAULT 'default';

CREATE TABLE IF NOT EXISTS job_events (
    event_id       text PRIMARY KEY,
    job_id         text NOT NULL,
    seq            bigint NOT NULL,
    type           text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor          text NOT NULL,
    causation_id   text,
    correlation_id text,
    payload        jsonb NOT NULL,                -- the event's own fields (envelope excluded), as JSON
    namespace      text NOT NULL DEFAULT 'default',
    UNIQUE (job_id, seq)
);
ALTER TABLE job_events ADD COLUMN IF NOT EXISTS namespace text NOT NULL DEFAULT 'default';
CREATE INDEX IF NOT EXISTS job_events_causation_idx ON job_events (causation_id);
CREATE INDEX IF NOT EXISTS job_events_type_idx ON job_events (type, job_id);

-- Commands set aside on the poison topic, by command id (GET /v1/commands/{id}, command results).
CREATE TABLE IF NOT EXISTS poisoned_commands (
    command_id       text PRIMARY KEY,
    job_id           text,
    reason           text NOT NULL,
    origin_topic     text NOT NULL,
    origin_partition int NOT NULL,
    origin_offset    bigint NOT NULL,
    set_aside_at     timestamptz NOT NULL
);

-- Job templates, from the compacted templates topic: one row per name holding every version.
CREATE TABLE IF NOT EXISTS templates (
    name       text PRIMARY KEY,
    latest     int NOT NULL,                      -- the last version's number
    versions   jsonb NOT NULL,                    -- every version, oldest first: spec, params, created_at
    updated_at timestamptz NOT NULL
);

-- The API's audit trail, from the audit topic: changes made and requests refused (GET /v1/audit).
CREATE TABLE IF NOT EXISTS audit_log (
    entry_id  text PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text NOT NULL,                      -- key:<id>, jwt:<subject> or unauthenticated
    role      text,
    namespace text,
    address   text,
    action    text NOT NULL,                      -- the operation's name, e.g. cancel_job
    method    text NOT NULL,
    route     text NOT NULL,
    target    text,
    status    int NOT NULL,
    detail    text NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at, entry_id);

-- Where the projector stands in each topic partition; written in the same transaction as the rows.
CREATE TABLE IF NOT EXISTS projection_offsets (
    topic       text NOT NULL,
    partition   int NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
