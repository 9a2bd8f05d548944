UPDATE ferry.jobs SET paused = false, next_run_at = CASE WHEN $3::boolean THEN next_run_at ELSE $2::timestamptz END WHERE id = $1::uuid RETURNING id
