SELECT state FROM ferry.runs WHERE id = $1::uuid AND state = 'running' FOR UPDATE
