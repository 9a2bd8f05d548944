SELECT b.id::text, b.queued, jsonb_array_length(b.windows), coalesce(r.id::text, ''), coalesce(r.state, ''),
       coalesce((b.windows -> b.queued)::text, ''), b.job_id::text,
       coalesce((b.windows -> greatest(b.queued - 1, 0)) ->> 'from', ''),
       coalesce((b.windows -> greatest(b.queued - 1, 0)) ->> 'to', '')
  FROM ferry.backfills b
  LEFT JOIN ferry.runs r ON b.queued > 0 AND r.id = ((b.windows -> (b.queued - 1)) ->> 'run_id')::uuid
 WHERE b.state = 'running'
 ORDER BY b.created_at
 LIMIT 100
   FOR NO KEY UPDATE OF b SKIP LOCKED
