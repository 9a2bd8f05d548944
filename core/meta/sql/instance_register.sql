INSERT INTO ferry.instances (id, host, pid) VALUES ($1::uuid, $2, $3)
