UPDATE ferry.jobs SET next_run_at = $2::timestamptz WHERE id = $1::uuid
