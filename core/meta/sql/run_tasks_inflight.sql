SELECT id, kind, source_label, attempts FROM ferry.run_tasks WHERE run_id = $1::uuid AND state = 'loading' ORDER BY seq
