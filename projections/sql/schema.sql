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
    progress_message text
);
CREATE INDEX IF NOT EXISTS executions_job_idx ON executions (job_id, attempt);
CREATE INDEX IF NOT EXISTS executions_worker_idx ON executions (worker_id, execution_id);

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
