-- core/meta/sql/migrate_002.sql: the API's JSON shapes of jobs, runs, run tables and events as views
-- (elapsed times are clamped at 0: a reader's now() may precede a start stamped by another transaction)
CREATE VIEW ferry.job_doc AS
SELECT j.id, j.name, j.created_at,
       j.spec || jsonb_build_object(
           'id', j.id, 'created_at', j.created_at, 'updated_at', j.updated_at,
           'last_run', (SELECT jsonb_build_object('id', r.id, 'state', r.state,
                                                  'created_at', r.created_at,
                                                  'finished_at', r.finished_at)
                          FROM ferry.runs r WHERE r.job_id = j.id
                         ORDER BY r.created_at DESC LIMIT 1)) AS doc
  FROM ferry.jobs j;

CREATE VIEW ferry.task_doc AS
SELECT t.id, t.run_id, t.seq,
       jsonb_build_object(
           'source', t.source_label,
           'target', t.target_label,
           'parent', t.parent_label,
           'state', t.state,
           'rows', t.rows,
           'rows_estimate', t.rows_estimate,
           'bytes', t.bytes,
           'attempts', t.attempts,
           'started_at', t.started_at,
           'finished_at', t.finished_at,
           'elapsed_ms', e.ms,
           'rows_per_s', CASE WHEN e.ms > 0 THEN round(t.rows * 1000.0 / e.ms, 1) END,
           'error', t.error,
           'validation', t.validation) AS doc
  FROM ferry.run_tasks t,
       LATERAL (SELECT greatest(0, (extract(epoch FROM coalesce(t.finished_at, now()) - t.started_at) * 1000)::bigint)
                AS ms) e;

CREATE VIEW ferry.run_doc AS
SELECT r.id, r.job_id, r.created_at,
       jsonb_build_object(
           'id', r.id,
           'job_id', r.job_id,
           'job_name', r.job_name,
           'trigger', r.trigger,
           'params', r.params,
           'tables_requested', r.tables_requested,
           'state', r.state,
           'created_at', r.created_at,
           'started_at', r.started_at,
           'finished_at', r.finished_at,
           'error', r.error,
           'tables', jsonb_build_object(
               'total', a.total, 'queued', a.queued, 'loading', a.loading, 'loaded', a.loaded,
               'errored', a.errored, 'cancelled', a.cancelled, 'skipped', a.skipped),
           'rows', a.rows,
           'bytes', a.bytes,
           'rows_estimate', a.rows_estimate,
           'progress', p.progress,
           'eta_s', CASE WHEN r.state = 'running' AND p.finished > 0.001 AND e.ms IS NOT NULL
                         THEN round((e.ms / 1000.0 * (1 - least(p.finished, 1)) / p.finished)::numeric, 1) END,
           'elapsed_ms', e.ms) AS doc
  FROM ferry.runs r,
       LATERAL (SELECT count(*) AS total,
                       count(*) FILTER (WHERE t.state = 'queued') AS queued,
                       count(*) FILTER (WHERE t.state = 'loading') AS loading,
                       count(*) FILTER (WHERE t.state = 'loaded') AS loaded,
                       count(*) FILTER (WHERE t.state = 'errored') AS errored,
                       count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled,
                       count(*) FILTER (WHERE t.state = 'skipped') AS skipped,
                       coalesce(sum(t.rows), 0) AS rows,
                       coalesce(sum(t.bytes), 0) AS bytes,
                       coalesce(sum(t.rows_estimate), 0) AS rows_estimate,
                       coalesce(sum(greatest(t.rows_estimate, 1)), 0) AS weight,
                       coalesce(sum(greatest(t.rows_estimate, 1) *
                                    CASE WHEN t.state IN ('loaded', 'skipped') THEN 1
                                         WHEN t.state = 'loading'
                                         THEN least(t.rows::float8 / greatest(t.rows_estimate, 1), 0.99)
                                         ELSE 0 END), 0) AS done,
                       coalesce(sum(greatest(t.rows_estimate, 1) *
                                    CASE WHEN t.state IN ('errored', 'cancelled') THEN 1 ELSE 0 END), 0)
                       AS given_up
                  FROM ferry.run_tasks t WHERE t.run_id = r.id AND t.kind = 'copy') a,
       -- progress is the share of the rows that arrived; the ETA also counts
       -- failed tables as finished, since nothing more will happen to them
       LATERAL (SELECT CASE WHEN r.state = 'succeeded' THEN 1.0
                            WHEN a.weight = 0 THEN 0.0
                            ELSE round((a.done / a.weight)::numeric, 4) END AS progress,
                       CASE WHEN a.weight = 0 THEN 0.0
                            ELSE (a.done + a.given_up) / a.weight END AS finished) p,
       LATERAL (SELECT greatest(0, (extract(epoch FROM coalesce(r.finished_at, now()) - r.started_at) * 1000)::bigint)
                AS ms) e;

CREATE VIEW ferry.event_doc AS
SELECT ev.id, ev.run_id,
       jsonb_build_object('id', ev.id, 'run_id', ev.run_id, 'at', ev.at, 'level', ev.level,
                          'table', ev.tbl, 'kind', ev.kind, 'message', ev.message) AS doc
  FROM ferry.run_events ev;
