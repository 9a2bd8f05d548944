UPDATE ferry.runs r SET owner = $1::uuid, snapshot = NULL
 WHERE r.state IN ('running', 'cancelling')
   AND (r.owner IS NULL
        OR NOT EXISTS (SELECT 1 FROM ferry.instances i
                        WHERE i.id = r.owner AND i.heartbeat_at >= now() - interval '30 seconds'))
RETURNING r.id::text, r.state, r.spec::text
