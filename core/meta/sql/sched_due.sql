SELECT id::text, coalesce(spec ->> 'schedule', ''), to_char(next_run_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       extract(epoch FROM now())::bigint
  FROM ferry.jobs
 WHERE NOT paused AND next_run_at <= now()
 ORDER BY next_run_at
 LIMIT 100
   FOR NO KEY UPDATE SKIP LOCKED
