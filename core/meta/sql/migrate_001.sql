-- core/meta/sql/migrate_001.sql: jobs, runs, run tasks and run events
CREATE TABLE ferry.jobs (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    spec        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ferry.instances (
    id            uuid PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ferry.runs (
    id                uuid PRIMARY KEY,
    job_id            uuid NOT NULL REFERENCES ferry.jobs (id) ON DELETE CASCADE,
    job_name          text NOT NULL,
    spec              jsonb NOT NULL,
    trigger           text NOT NULL CHECK (trigger IN ('api', 'schedule', 'retry')),
    params            jsonb NOT NULL DEFAULT '{}',
    tables_requested  jsonb,
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled')),
    owner             uuid REFERENCES ferry.instances (id) ON DELETE SET NULL,
    snapshot          text,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE INDEX runs_job_created ON ferry.runs (job_id, created_at DESC);
CREATE UNIQUE INDEX runs_one_active_per_job ON ferry.runs (job_id)
    WHERE state IN ('queued', 'running', 'cancelling');
CREATE INDEX runs_queued ON ferry.runs (created_at) WHERE state = 'queued';

CREATE TABLE ferry.run_tasks (
    id              bigserial PRIMARY KEY,
    run_id          uuid NOT NULL REFERENCES ferry.runs (id) ON DELETE CASCADE,
    seq             integer NOT NULL,
    source_schema   text NOT NULL,
    source_table    text NOT NULL,
    target_schema   text NOT NULL,
    target_table    text NOT NULL,
    source_label    text NOT NULL,
    target_label    text NOT NULL,
    filter          text,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'loading', 'loaded', 'errored', 'cancelled', 'skipped')),
    rows            bigint NOT NULL DEFAULT 0,
    rows_estimate   bigint NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    bytes_estimate  bigint NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    owner           uuid,
    lease_until     timestamptz,
    started_at      timestamptz,
    finished_at     timestamptz,
    error           text,
    validation      jsonb NOT NULL DEFAULT '{"state": "skipped", "source_rows": null, "target_rows": null}',
    -- a copy task loads one table (or partition); a step task runs one
    -- statement on the target after the data is in (index, constraint)
    kind            text NOT NULL DEFAULT 'copy' CHECK (kind IN ('copy', 'step')),
    copy            jsonb,
    parent_label    text,
    step_kind       text,
    step_name       text,
    step_sql        text,
    -- steps of phase 1 wait for their table (depends_on), phase 2 for every table of the run
    phase           integer NOT NULL DEFAULT 0,
    depends_on      bigint REFERENCES ferry.run_tasks (id) ON DELETE CASCADE,
    -- a task being retried waits until then
    not_before      timestamptz,
    UNIQUE (run_id, seq)
);
CREATE INDEX run_tasks_queued ON ferry.run_tasks (run_id, seq) WHERE state = 'queued';

CREATE TABLE ferry.run_events (
    id        bigserial PRIMARY KEY,
    run_id    uuid NOT NULL REFERENCES ferry.runs (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    level     text NOT NULL CHECK (level IN ('info', 'warning', 'error')),
    tbl       text,
    kind      text NOT NULL,
    message   text NOT NULL
);
CREATE INDEX run_events_run ON ferry.run_events (run_id, id);
