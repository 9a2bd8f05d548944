UPDATE ferry.runs r
   SET state = CASE WHEN s.errored > 0 THEN 'failed'
                    WHEN r.state = 'cancelling' OR s.cancelled > 0 THEN 'cancelled'
                    ELSE 'succeeded' END,
       finished_at = now(),
       snapshot = NULL,
       error = CASE WHEN s.errored_tables > 0
                    THEN format('%s of %s tables failed: %s', s.errored_tables, s.total, s.failed_names)
                    WHEN s.errored > 0
                    THEN format('%s post-load steps failed: %s', s.errored, s.failed_names)
                    WHEN r.state = 'cancelling' OR s.cancelled > 0 THEN coalesce(r.error, 'cancelled')
                    ELSE NULL END
  FROM (SELECT count(*) FILTER (WHERE kind = 'copy') AS total,
               count(*) FILTER (WHERE state = 'errored') AS errored,
               count(*) FILTER (WHERE state = 'errored' AND kind = 'copy') AS errored_tables,
               count(*) FILTER (WHERE state = 'cancelled' AND kind = 'copy') AS cancelled,
               count(*) FILTER (WHERE state IN ('queued', 'loading')) AS open,
               string_agg(CASE WHEN kind = 'copy' THEN source_label
                               WHEN step_kind = 'after' THEN format('after step %s', step_name)
                               ELSE format('%s %s of %s', replace(step_kind, '_', ' '), step_name, source_label) END,
                          ', ' ORDER BY kind, seq) FILTER (WHERE state = 'errored') AS failed_names
          FROM ferry.run_tasks WHERE run_id = $1::uuid) s
 WHERE r.id = $1::uuid AND r.state IN ('running', 'cancelling') AND s.open = 0
RETURNING r.state, coalesce(r.error, '')
