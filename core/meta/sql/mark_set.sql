INSERT INTO ferry.marks (job_id, source_label, cursor_column, cursor_type, value, run_id, rows, updated_at)
SELECT r.job_id, $2, $3, $4, $5, r.id, $6, now() FROM ferry.runs r WHERE r.id = $1::uuid
ON CONFLICT (job_id, source_label) DO UPDATE
   SET cursor_column = EXCLUDED.cursor_column, cursor_type = EXCLUDED.cursor_type, value = EXCLUDED.value,
       run_id = EXCLUDED.run_id, rows = EXCLUDED.rows, updated_at = EXCLUDED.updated_at
