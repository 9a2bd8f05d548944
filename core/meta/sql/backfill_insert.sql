INSERT INTO ferry.backfills (id, job_id, range_from, range_to, step, windows) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::jsonb)
