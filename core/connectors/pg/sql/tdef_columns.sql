-- the columns of the tables whose oids are in $1, by the table's position there
SELECT w.i, a.attname,
       format_type(a.atttypid, a.atttypmod),
       a.atttypid::int8,
       a.attnotnull,
       a.attidentity,
       a.attgenerated,
       CASE WHEN a.atthasdef THEN pg_get_expr(d.adbin, d.adrelid) END,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
       -- the sequence a serial or identity column owns, as pg_get_serial_sequence finds and prints it
       (SELECT quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
          FROM pg_depend dep
          JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
          JOIN pg_namespace sn ON sn.oid = s.relnamespace
         WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum
           AND dep.classid = 'pg_class'::regclass AND dep.objsubid = 0 AND dep.deptype IN ('a', 'i')
         LIMIT 1),
       -- every sequence the column's default calls (nextval('…')), owned by it or not
       (SELECT json_agg(quote_ident(sn.nspname) || '.' || quote_ident(s.relname) ORDER BY sn.nspname, s.relname)
          FROM pg_depend dep
          JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
          JOIN pg_namespace sn ON sn.oid = s.relnamespace
         WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
           AND dep.refclassid = 'pg_class'::regclass)
  FROM unnest($1::oid[]) WITH ORDINALITY w(oid, i)
  JOIN pg_class c ON c.oid = w.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
 ORDER BY w.i, a.attnum
