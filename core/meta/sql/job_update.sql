UPDATE ferry.jobs SET name = $2, spec = $3::jsonb, next_run_at = $4::timestamptz, updated_at = now() WHERE id = $1::uuid
