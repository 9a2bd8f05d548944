SELECT count(*) FROM ferry.backfills WHERE job_id = $1::uuid
