SELECT id::text, host, pid FROM ferry.instances WHERE id <> $1::uuid
