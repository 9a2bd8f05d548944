UPDATE ferry.run_tasks t SET rows = $2, bytes = $3, lease_until = now() + interval '60 seconds' FROM ferry.runs r WHERE t.id = $1 AND r.id = t.run_id RETURNING r.state
