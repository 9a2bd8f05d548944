SELECT id::text, spec::text FROM ferry.jobs WHERE id = $1::uuid OR name = $2
