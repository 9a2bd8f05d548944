UPDATE ferry.run_tasks SET state = 'cancelled', finished_at = now(), lease_until = NULL, error = $2 WHERE run_id = $1::uuid AND state IN ('queued', 'loading')
