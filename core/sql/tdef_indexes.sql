SELECT ic.relname, pg_get_indexdef(i.indexrelid),
       -- the columns it uses: its keys, and those its expressions and predicate depend on
       (SELECT string_agg(a.attname, E'\x1f')
          FROM pg_attribute a
         WHERE a.attrelid = i.indrelid AND a.attnum > 0
           AND (a.attnum = ANY (i.indkey)
                OR EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                              AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
                              AND d.refobjsubid = a.attnum)))
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE n.nspname = $1 AND c.relname = $2
   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid)
 ORDER BY ic.relname
