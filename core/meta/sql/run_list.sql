SELECT doc::text FROM ferry.run_doc WHERE job_id = $1::uuid ORDER BY created_at DESC, id LIMIT $2 OFFSET $3
