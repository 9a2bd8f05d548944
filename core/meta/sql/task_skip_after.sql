UPDATE ferry.run_tasks SET state = 'skipped', finished_at = now(), error = $2 WHERE run_id = $1::uuid AND phase = 3 AND state = 'queued' RETURNING step_name
