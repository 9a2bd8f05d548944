SELECT doc::text FROM ferry.event_doc WHERE run_id = $1::uuid AND id > $2 ORDER BY id LIMIT $3
