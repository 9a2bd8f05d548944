INSERT INTO ferry.jobs (id, name, spec, next_run_at) VALUES ($1::uuid, $2, $3::jsonb, $4::timestamptz)
