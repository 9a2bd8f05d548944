-- the run's tables in plan order as one JSON array ('[]' when it has none), or no row when there is no run $1
SELECT coalesce(jsonb_agg(d.doc ORDER BY d.seq) FILTER (WHERE d.id IS NOT NULL), '[]')::text
  FROM ferry.runs r
  LEFT JOIN ferry.run_tasks t ON t.run_id = r.id AND t.kind = 'copy'
  LEFT JOIN ferry.task_doc d ON d.id = t.id
 WHERE r.id = $1::uuid
 GROUP BY r.id
