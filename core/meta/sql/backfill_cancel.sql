UPDATE ferry.backfills
   SET state = 'cancelled', error = 'cancelled by request', finished_at = now()
 WHERE id = $1::uuid AND state = 'running'
RETURNING CASE WHEN queued > 0 THEN coalesce((windows -> (queued - 1)) ->> 'run_id', '') ELSE '' END
