UPDATE ferry.jobs SET paused = true WHERE id = $1::uuid RETURNING id
