-- a task's outcome and the event that tells it, in one round trip and one commit
WITH done AS (
    UPDATE ferry.run_tasks
       SET state = $2, rows = $3, bytes = $4, error = nullif($5, ''), validation = $6::jsonb,
           finished_at = now(), lease_until = NULL
     WHERE id = $1
    RETURNING run_id
)
INSERT INTO ferry.run_events (run_id, level, tbl, kind, message)
SELECT run_id, $7, $8, $9, $10 FROM done
