-- the indexes of the tables whose oids are in $1 that no constraint owns and that
-- are not partitions of an index, by the table's position there
SELECT w.i, ic.relname, pg_get_indexdef(i.indexrelid),
       -- the columns it uses: its keys, and those its expressions and predicate depend on
       (SELECT string_agg(a.attname, E'\x1f')
          FROM pg_attribute a
         WHERE a.attrelid = i.indrelid AND a.attnum > 0
           AND (a.attnum = ANY (i.indkey)
                OR EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                              AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
                              AND d.refobjsubid = a.attnum)))
  FROM unnest($1::oid[]) WITH ORDINALITY w(oid, i)
  JOIN pg_index i ON i.indrelid = w.oid
  JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid)
 ORDER BY w.i, ic.relname
