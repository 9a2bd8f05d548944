SELECT d.doc::text FROM ferry.task_doc d JOIN ferry.run_tasks t ON t.id = d.id WHERE d.run_id = $1::uuid AND t.kind = 'copy' ORDER BY d.seq
