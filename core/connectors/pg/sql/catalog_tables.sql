SELECT n.nspname, c.relname,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(greatest(pc.reltuples, 0)), 0)::bigint FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf)
            ELSE c.reltuples::bigint END AS rows_estimate,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_table_size(pt.relid)), 0) FROM pg_partition_tree(c.oid) pt WHERE pt.isleaf)
            ELSE pg_table_size(c.oid) END AS bytes_estimate,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
       c.relkind = 'p' AND NOT EXISTS (SELECT 1 FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf AND pc.reltuples < 0) OR c.relkind = 'r' AND c.reltuples >= 0 AS analyzed
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_(toast|temp)'
   AND n.nspname <> '_ferry'
 ORDER BY 4 DESC, 1, 2
