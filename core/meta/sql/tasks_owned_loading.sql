-- the tasks loading in the runs this instance owns, with their run's state and spec
SELECT t.id, t.kind, t.source_label, t.run_id::text, r.state, r.spec::text
  FROM ferry.runs r JOIN ferry.run_tasks t ON t.run_id = r.id
 WHERE r.owner = $1::uuid AND r.state IN ('running', 'cancelling') AND t.state = 'loading'
 ORDER BY r.created_at, t.seq
