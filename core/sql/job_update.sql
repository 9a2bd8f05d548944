UPDATE ferry.jobs SET name = $2, spec = $3::jsonb, updated_at = now() WHERE id = $1::uuid
