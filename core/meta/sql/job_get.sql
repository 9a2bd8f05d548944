SELECT doc::text FROM ferry.job_doc WHERE id = $1::uuid OR name = $2
