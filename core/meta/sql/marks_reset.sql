DELETE FROM ferry.marks WHERE job_id = $1::uuid AND ($2::text IS NULL OR source_label = $2) RETURNING source_label
