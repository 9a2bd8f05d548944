WITH next AS (
    SELECT t.id FROM ferry.run_tasks t JOIN ferry.runs r ON r.id = t.run_id
     WHERE t.state = 'queued' AND r.state = 'running' AND r.owner = $1::uuid AND r.snapshot IS NOT NULL
       AND (t.not_before IS NULL OR t.not_before <= now())
       AND CASE WHEN t.kind = 'copy' THEN
                (SELECT count(*) FROM ferry.run_tasks l
                  WHERE l.run_id = r.id AND l.kind = 'copy' AND l.state = 'loading')
                < coalesce((r.spec -> 'load' ->> 'parallel')::int, 1)
           ELSE
                (SELECT count(*) FROM ferry.run_tasks l
                  WHERE l.run_id = r.id AND l.kind = 'step' AND l.state = 'loading')
                < coalesce((r.spec -> 'load' ->> 'index_parallel')::int, 1)
                AND CASE WHEN t.phase = 1
                         THEN (SELECT d.state FROM ferry.run_tasks d WHERE d.id = t.depends_on) = 'loaded'
                         WHEN t.phase = 2
                         THEN NOT EXISTS (SELECT 1 FROM ferry.run_tasks o
                                           WHERE o.run_id = r.id AND (o.kind = 'copy' OR o.phase = 1)
                                             AND o.state IN ('queued', 'loading'))
                         -- phase 3, the job's after statements: once everything else is done, in order
                         ELSE NOT EXISTS (SELECT 1 FROM ferry.run_tasks o
                                           WHERE o.run_id = r.id AND o.phase < 3
                                             AND o.state IN ('queued', 'loading'))
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
