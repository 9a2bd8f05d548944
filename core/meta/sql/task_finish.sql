-- a task's outcome and the event that tells it, in one round trip and one
-- commit; $11 is the commit's synchronous_commit: 'off' for a task that may
-- be done again (see "Bookkeeping durability" in the README), else 'on'
WITH done AS (
    UPDATE ferry.run_tasks
       SET state = $2, rows = $3, bytes = $4, error = nullif($5, ''), validation = $6::jsonb,
           finished_at = now(), lease_until = NULL
     WHERE id = $1
    RETURNING run_id
), durability AS MATERIALIZED (
    SELECT set_config('synchronous_commit', $11, true)
)
INSERT INTO ferry.run_events (run_id, level, tbl, kind, message)
SELECT run_id, $7, $8, $9, $10 FROM done, durability
