WITH stale AS (
    SELECT r.id FROM ferry.runs r LEFT JOIN ferry.instances i ON i.id = r.owner
     WHERE r.state IN ('running', 'cancelling')
       AND (i.id IS NULL OR i.heartbeat_at < now() - interval '30 seconds')
     FOR UPDATE OF r SKIP LOCKED
), tasks AS (
    UPDATE ferry.run_tasks SET state = 'cancelled', finished_at = now(), lease_until = NULL,
           error = 'interrupted: the ferryd process running this table stopped'
     WHERE run_id IN (SELECT id FROM stale) AND state IN ('queued', 'loading')
)
UPDATE ferry.runs SET state = 'failed', finished_at = now(), snapshot = NULL,
       error = 'interrupted: the ferryd process running this run stopped before it finished'
 WHERE id IN (SELECT id FROM stale)
RETURNING id::text
