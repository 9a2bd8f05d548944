-- core/meta/sql/migrate_003.sql: schedules, incremental high-water marks, backfills
ALTER TABLE ferry.jobs
    ADD COLUMN paused      boolean NOT NULL DEFAULT false,
    ADD COLUMN next_run_at timestamptz;
CREATE INDEX jobs_due ON ferry.jobs (next_run_at) WHERE next_run_at IS NOT NULL;

-- a backfill reloads a cursor range of a job's incremental tables, one window per run
CREATE TABLE ferry.backfills (
    id          uuid PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES ferry.jobs (id) ON DELETE CASCADE,
    range_from  text NOT NULL,
    range_to    text NOT NULL,
    step        text NOT NULL,
    -- [{"from": …, "to": …}, …] in the order they run
    windows     jsonb NOT NULL,
    -- how many windows have been queued as runs so far
    queued      integer NOT NULL DEFAULT 0,
    state       text NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX backfills_running ON ferry.backfills (created_at) WHERE state = 'running';

ALTER TABLE ferry.runs DROP CONSTRAINT runs_state_check;
ALTER TABLE ferry.runs ADD CONSTRAINT runs_state_check
    CHECK (state IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled', 'skipped'));
ALTER TABLE ferry.runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE ferry.runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('api', 'schedule', 'retry', 'backfill'));
ALTER TABLE ferry.runs
    ADD COLUMN backfill_id uuid REFERENCES ferry.backfills (id) ON DELETE SET NULL;
CREATE INDEX runs_backfill ON ferry.runs (backfill_id) WHERE backfill_id IS NOT NULL;

-- the high-water mark of an incremental table: the largest cursor value its
-- last committed load read; the next run reads from there on
CREATE TABLE ferry.marks (
    job_id        uuid NOT NULL REFERENCES ferry.jobs (id) ON DELETE CASCADE,
    source_label  text NOT NULL,
    cursor_column text NOT NULL,
    cursor_type   text NOT NULL,
    value         text NOT NULL,
    run_id        uuid,
    rows          bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, source_label)
);

CREATE OR REPLACE VIEW ferry.job_doc AS
SELECT j.id, j.name, j.created_at,
       j.spec || jsonb_build_object(
           'id', j.id, 'created_at', j.created_at, 'updated_at', j.updated_at,
           'paused', j.paused, 'next_run_at', j.next_run_at,
           'last_run', (SELECT jsonb_build_object('id', r.id, 'state', r.state,
                                                  'created_at', r.created_at,
                                                  'finished_at', r.finished_at)
                          FROM ferry.runs r WHERE r.job_id = j.id
                         ORDER BY r.created_at DESC LIMIT 1)) AS doc
  FROM ferry.jobs j;
