WITH RECURSIVE deps(oid, depth) AS (
    SELECT u, 0 FROM unnest($1::oid[]) u
    UNION
    SELECT x.oid, d.depth + 1
      FROM deps d
      JOIN pg_type t ON t.oid = d.oid
      CROSS JOIN LATERAL (
          SELECT t.typelem WHERE t.typelem <> 0 AND t.typcategory = 'A'
          UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
          UNION ALL SELECT a.atttypid FROM pg_attribute a
                     WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
          UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE t.typtype = 'r' AND r.rngtypid = t.oid
      ) x(oid)
     WHERE d.depth < 16
)
SELECT n.nspname, t.typname, t.typtype, max(d.depth) AS depth,
       (SELECT e.extname FROM pg_depend dep JOIN pg_extension e ON e.oid = dep.refobjid
         WHERE dep.classid = 'pg_type'::regclass AND dep.objid = t.oid AND dep.deptype = 'e'),
       CASE t.typtype
         WHEN 'e' THEN format('CREATE TYPE %I.%I AS ENUM (%s)', n.nspname, t.typname,
                              (SELECT string_agg(quote_literal(en.enumlabel), ', ' ORDER BY en.enumsortorder)
                                 FROM pg_enum en WHERE en.enumtypid = t.oid))
         WHEN 'd' THEN format('CREATE DOMAIN %I.%I AS %s', n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod))
                       || CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT bt.typcollation FROM pg_type bt WHERE bt.oid = t.typbasetype)
                               THEN (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation)
                               ELSE '' END
                       || coalesce(' DEFAULT ' || t.typdefault, '')
                       || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                       || coalesce((SELECT string_agg(format(' CONSTRAINT %I %s', con.conname, pg_get_constraintdef(con.oid)), '' ORDER BY con.conname)
                                      FROM pg_constraint con WHERE con.contypid = t.oid), '')
         WHEN 'c' THEN format('CREATE TYPE %I.%I AS (%s)', n.nspname, t.typname,
                              (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
                                 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
         WHEN 'r' THEN format('CREATE TYPE %I.%I AS RANGE (subtype = %s)', n.nspname, t.typname,
                              (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid))
       END
  FROM deps d
  JOIN pg_type t ON t.oid = d.oid
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND (t.typtype IN ('e', 'd', 'r')
        OR t.typtype = 'c' AND (SELECT cr.relkind FROM pg_class cr WHERE cr.oid = t.typrelid) = 'c')
 GROUP BY t.oid, n.nspname, t.typname, t.typtype
 ORDER BY max(d.depth) DESC, n.nspname, t.typname
