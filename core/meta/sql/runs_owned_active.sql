UPDATE ferry.runs SET state = 'cancelling', error = coalesce(error, $2) WHERE owner = $1::uuid AND state = 'running' RETURNING id::text
