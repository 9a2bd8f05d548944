SELECT DISTINCT coalesce(parent_label, source_label) FROM ferry.run_tasks WHERE run_id = $1::uuid AND kind = 'copy' AND state <> 'loaded' ORDER BY 1
