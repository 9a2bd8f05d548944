-- claim the next task of a run this instance owns: what each run has in
-- flight is counted once per run, not once per queued task
WITH owned AS (
    SELECT r.id, r.created_at,
           coalesce((r.spec -> 'load' ->> 'parallel')::int, 1) AS copy_slots,
           coalesce((r.spec -> 'load' ->> 'index_parallel')::int, 1) AS step_slots,
           a.copies_loading, a.steps_loading, a.tables_open, a.before_after_open
      FROM ferry.runs r,
           LATERAL (SELECT count(*) FILTER (WHERE o.kind = 'copy' AND o.state = 'loading') AS copies_loading,
                           count(*) FILTER (WHERE o.kind = 'step' AND o.state = 'loading') AS steps_loading,
                           count(*) FILTER (WHERE o.kind = 'copy' OR o.phase = 1) AS tables_open,
                           count(*) FILTER (WHERE o.phase < 3) AS before_after_open
                      FROM ferry.run_tasks o
                     WHERE o.run_id = r.id AND o.state IN ('queued', 'loading')) a
     WHERE r.state = 'running' AND r.owner = $1::uuid AND r.snapshot IS NOT NULL
), next AS (
    SELECT t.id FROM ferry.run_tasks t JOIN owned r ON r.id = t.run_id
     WHERE t.state = 'queued'
       AND (t.not_before IS NULL OR t.not_before <= now())
       AND CASE WHEN t.kind = 'copy' THEN r.copies_loading < r.copy_slots
           ELSE r.steps_loading < r.step_slots
                AND CASE WHEN t.phase = 1
                         THEN (SELECT d.state FROM ferry.run_tasks d WHERE d.id = t.depends_on) = 'loaded'
                         WHEN t.phase = 2
                         THEN r.tables_open = 0
                         -- phase 3, the job's after statements: once everything else is done, in order
                         ELSE r.before_after_open = 0
                              AND (t.depends_on IS NULL
                                   OR (SELECT d.state FROM ferry.run_tasks d WHERE d.id = t.depends_on) = 'loaded')
                    END
           END
     -- post-load steps first: they finish tables; then the biggest tables
     ORDER BY r.created_at, t.kind = 'copy', t.seq
     FOR UPDATE OF t SKIP LOCKED LIMIT 1
), claimed AS (
    UPDATE ferry.run_tasks t
       SET state = 'loading', attempts = t.attempts + 1, owner = $1::uuid,
           lease_until = now() + interval '60 seconds', started_at = now(), finished_at = NULL,
           rows = 0, bytes = 0, not_before = NULL
      FROM next WHERE t.id = next.id
    RETURNING t.*
)
SELECT c.id, c.run_id::text, c.source_schema, c.source_table, c.target_schema, c.target_table,
       c.source_label, c.target_label, coalesce(c.filter, ''), r.spec::text, r.snapshot,
       c.kind, coalesce(c.copy::text, ''), coalesce(c.step_kind, ''), coalesce(c.step_name, ''),
       coalesce(c.step_sql, ''), c.attempts
  FROM claimed c JOIN ferry.runs r ON r.id = c.run_id
