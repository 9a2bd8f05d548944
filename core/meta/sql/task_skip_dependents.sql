UPDATE ferry.run_tasks SET state = 'skipped', finished_at = now(), error = $2 WHERE depends_on = $1 AND state = 'queued' RETURNING step_kind, step_name, source_label
