UPDATE ferry.runs SET state = 'cancelling', error = coalesce(error, $2) WHERE id = $1::uuid AND state IN ('queued', 'running') RETURNING state
