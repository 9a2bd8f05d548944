UPDATE ferry.backfills SET state = $2, error = $3, finished_at = now() WHERE id = $1::uuid AND state = 'running'
