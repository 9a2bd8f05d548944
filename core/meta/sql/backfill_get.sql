SELECT doc::text FROM ferry.backfill_doc WHERE id = $1::uuid
