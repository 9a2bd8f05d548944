UPDATE ferry.instances SET heartbeat_at = now() WHERE id = $1::uuid
