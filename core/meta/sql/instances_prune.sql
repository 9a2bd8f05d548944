DELETE FROM ferry.instances i WHERE i.heartbeat_at < now() - interval '1 hour' AND NOT EXISTS (SELECT 1 FROM ferry.runs r WHERE r.owner = i.id AND r.state IN ('running', 'cancelling'))
