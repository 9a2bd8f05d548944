UPDATE ferry.runs SET state = 'failed', error = $2, finished_at = now(), snapshot = NULL WHERE id = $1::uuid AND state IN ('running', 'cancelling') RETURNING id
