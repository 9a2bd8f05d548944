-- core/meta/sql/migrate_004.sql: one running backfill per job; the API's JSON shape of a backfill
CREATE UNIQUE INDEX backfills_one_running_per_job ON ferry.backfills (job_id) WHERE state = 'running';

-- from, to and step are integers when they were given as integers; a window's
-- state is its run's, or "pending" until it is queued
CREATE VIEW ferry.backfill_doc AS
SELECT b.id, b.job_id, b.created_at,
       jsonb_build_object(
           'id', b.id,
           'job_id', b.job_id,
           'from', CASE WHEN b.range_from ~ '^-?[0-9]+$' THEN to_jsonb(b.range_from::numeric)
                        ELSE to_jsonb(b.range_from) END,
           'to', CASE WHEN b.range_to ~ '^-?[0-9]+$' THEN to_jsonb(b.range_to::numeric)
                      ELSE to_jsonb(b.range_to) END,
           'step', CASE WHEN b.step ~ '^[0-9]+$' THEN to_jsonb(b.step::numeric) ELSE to_jsonb(b.step) END,
           'state', b.state,
           'windows', w.windows,
           'created_at', b.created_at,
           'finished_at', b.finished_at,
           'error', b.error) AS doc
  FROM ferry.backfills b,
       LATERAL (SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'from', x.w -> 'from', 'to', x.w -> 'to',
                           'run_id', x.w -> 'run_id', 'state', coalesce(r.state, 'pending'))
                           ORDER BY x.n), '[]') AS windows
                  FROM jsonb_array_elements(b.windows) WITH ORDINALITY AS x (w, n)
                  LEFT JOIN ferry.runs r ON r.id = (x.w ->> 'run_id')::uuid) w;
