-- insert the tasks of run $1, given as a JSON array of rows ($2); a row's waits_for
-- is the seq of the task it waits for (depends_on), which may be another of these rows
WITH new_tasks AS (
    SELECT nextval('ferry.run_tasks_id_seq'::regclass) AS id, x.*
      FROM jsonb_to_recordset($2::jsonb) AS x(seq integer, source_schema text, source_table text,
                                              target_schema text, target_table text, source_label text,
                                              target_label text, filter text, rows_estimate bigint,
                                              bytes_estimate bigint, kind text, copy jsonb, parent_label text,
                                              step_kind text, step_name text, step_sql text, phase integer,
                                              waits_for integer, state text, error text)
)
INSERT INTO ferry.run_tasks (id, run_id, seq, source_schema, source_table, target_schema, target_table,
                             source_label, target_label, filter, rows_estimate, bytes_estimate, kind, copy,
                             parent_label, step_kind, step_name, step_sql, phase, depends_on, state, error)
SELECT t.id, $1::uuid, t.seq, t.source_schema, t.source_table, t.target_schema, t.target_table,
       t.source_label, t.target_label, t.filter, t.rows_estimate, t.bytes_estimate, t.kind, t.copy,
       t.parent_label, t.step_kind, t.step_name, t.step_sql, t.phase, d.id, coalesce(t.state, 'queued'), t.error
  FROM new_tasks t LEFT JOIN new_tasks d ON d.seq = t.waits_for
 ORDER BY t.seq
