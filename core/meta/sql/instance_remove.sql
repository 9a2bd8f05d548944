DELETE FROM ferry.instances WHERE id = $1::uuid
