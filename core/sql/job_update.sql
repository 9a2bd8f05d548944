UPDATE ferry.jobs SET name = $3, spec = $4::jsonb, updated_at = now() WHERE id = $1::uuid OR name = $2 RETURNING id::text
