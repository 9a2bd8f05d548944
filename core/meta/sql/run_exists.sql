SELECT 1 FROM ferry.runs WHERE id = $1::uuid
