SELECT doc::text FROM ferry.task_doc WHERE run_id = $1::uuid ORDER BY seq
