SELECT count(*) FROM ferry.runs WHERE job_id = $1::uuid
