UPDATE ferry.run_tasks SET state = $2, rows = $3, bytes = $4, error = nullif($5, ''), validation = $6::jsonb, finished_at = now(), lease_until = NULL WHERE id = $1
