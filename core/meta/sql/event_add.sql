INSERT INTO ferry.run_events (run_id, level, tbl, kind, message) VALUES ($1::uuid, $2, $3, $4, $5)
