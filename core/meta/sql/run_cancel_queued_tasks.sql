UPDATE ferry.run_tasks SET state = 'cancelled', finished_at = now(), error = $2 WHERE run_id = $1::uuid AND state = 'queued'
