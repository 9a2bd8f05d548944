-- a run that cannot go on (its planning failed) ends failed, with its
-- run_finished event in the same statement
WITH failed AS (
    UPDATE ferry.runs SET state = 'failed', error = $2, finished_at = now(), snapshot = NULL
     WHERE id = $1::uuid AND state IN ('running', 'cancelling')
    RETURNING id
)
INSERT INTO ferry.run_events (run_id, level, tbl, kind, message)
SELECT id, 'error', NULL, 'run_finished', format('run failed: %s', $2::text) FROM failed
RETURNING run_id
