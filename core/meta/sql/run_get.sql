SELECT doc::text FROM ferry.run_doc WHERE id = $1::uuid
