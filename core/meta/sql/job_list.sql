SELECT doc::text FROM ferry.job_doc ORDER BY created_at, id LIMIT $1 OFFSET $2
