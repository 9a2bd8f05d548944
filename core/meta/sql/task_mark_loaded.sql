UPDATE ferry.run_tasks SET state = 'loaded', rows = $2, finished_at = now(), owner = NULL, lease_until = NULL, error = NULL WHERE id = $1
