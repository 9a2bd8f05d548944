-- close a run once none of its tasks is queued or loading; while one is, the
-- two index probes of "pending" answer and the run's tasks are not read. The
-- run_finished event goes in with the final state, so that whoever sees the
-- run ended finds the event too.
WITH pending AS (
    SELECT EXISTS (SELECT 1 FROM ferry.run_tasks WHERE run_id = $1::uuid AND state = 'queued')
           OR EXISTS (SELECT 1 FROM ferry.run_tasks WHERE run_id = $1::uuid AND state = 'loading') AS yes
), closed AS (
    UPDATE ferry.runs r
       SET state = CASE WHEN s.errored > 0 THEN 'failed'
                        WHEN r.state = 'cancelling' OR s.cancelled > 0 THEN 'cancelled'
                        ELSE 'succeeded' END,
           finished_at = now(),
           snapshot = NULL,
           error = CASE WHEN s.errored_tables > 0
                        THEN format('%s of %s tables failed: %s', s.errored_tables, s.total, s.failed_names)
                        WHEN s.errored > 0
                        THEN format('%s post-load steps or objects failed: %s', s.errored, s.failed_names)
                        WHEN r.state = 'cancelling' OR s.cancelled > 0 THEN coalesce(r.error, 'cancelled')
                        ELSE NULL END
      FROM (SELECT count(*) FILTER (WHERE kind = 'copy') AS total,
                   count(*) FILTER (WHERE state = 'errored') AS errored,
                   count(*) FILTER (WHERE state = 'errored' AND kind = 'copy') AS errored_tables,
                   count(*) FILTER (WHERE state = 'cancelled' AND kind = 'copy') AS cancelled,
                   string_agg(CASE WHEN kind = 'copy' THEN source_label
                                   WHEN step_kind = 'after' THEN format('after step %s', step_name)
                                   WHEN step_kind = 'object' THEN step_name
                                   ELSE format('%s %s of %s', replace(step_kind, '_', ' '), step_name, source_label) END,
                              ', ' ORDER BY kind, seq) FILTER (WHERE state = 'errored') AS failed_names
              FROM ferry.run_tasks WHERE run_id = $1::uuid AND NOT (SELECT yes FROM pending)) s
     WHERE r.id = $1::uuid AND r.state IN ('running', 'cancelling') AND NOT (SELECT yes FROM pending)
    RETURNING r.id, r.state, coalesce(r.error, '') AS error
), told AS (
    INSERT INTO ferry.run_events (run_id, level, tbl, kind, message)
    SELECT id, CASE state WHEN 'succeeded' THEN 'info' WHEN 'cancelled' THEN 'warning' ELSE 'error' END,
           NULL, 'run_finished', format('run %s%s', state, CASE WHEN error <> '' THEN ': ' || error ELSE '' END)
      FROM closed
)
SELECT state, error FROM closed
