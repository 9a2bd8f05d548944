-- the constraints of the tables whose oids are in $1, by the table's position there
SELECT w.i, con.conname, con.contype, pg_get_constraintdef(con.oid),
       (SELECT string_agg(a.attname, E'\x1f' ORDER BY k.ord)
          FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
       fn.nspname, fc.relname,
       CASE WHEN fc.oid IS NOT NULL THEN quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) END,
       -- the unique index of a primary key or unique constraint that is checked at once
       CASE WHEN con.contype IN ('p', 'u') AND NOT con.condeferrable THEN pg_get_indexdef(con.conindid) END
  FROM unnest($1::oid[]) WITH ORDINALITY w(oid, i)
  JOIN pg_constraint con ON con.conrelid = w.oid
  LEFT JOIN pg_class fc ON fc.oid = con.confrelid
  LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
 WHERE con.contype IN ('p', 'u', 'c', 'f', 'x')
   AND con.conislocal
 ORDER BY w.i, CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'c' THEN 2 WHEN 'x' THEN 3 ELSE 4 END, con.conname
