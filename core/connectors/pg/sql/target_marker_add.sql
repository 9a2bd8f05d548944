INSERT INTO _ferry.loads (run_id, task_id, rows) VALUES ($1::uuid, $2, $3) ON CONFLICT (run_id, task_id) DO UPDATE SET rows = EXCLUDED.rows, loaded_at = now()
