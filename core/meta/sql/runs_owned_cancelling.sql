SELECT id::text FROM ferry.runs WHERE owner = $1::uuid AND state = 'cancelling'
