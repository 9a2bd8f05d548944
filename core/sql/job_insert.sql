INSERT INTO ferry.jobs (id, name, spec) VALUES ($1::uuid, $2, $3::jsonb)
