SELECT rows FROM _ferry.loads WHERE run_id = $1::uuid AND task_id = $2
