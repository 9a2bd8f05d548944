SELECT n.nspname, c.relname, c.relkind, pt.level, pt.isleaf,
       CASE WHEN pt.isleaf THEN greatest(c.reltuples, 0)::bigint ELSE 0 END,
       CASE WHEN pt.isleaf THEN pg_table_size(c.oid) ELSE 0 END,
       c.reltuples >= 0 OR NOT pt.isleaf,
       pn.nspname, pc.relname
  FROM pg_partition_tree((SELECT c2.oid FROM pg_class c2 JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
                           WHERE n2.nspname = $1 AND c2.relname = $2)) pt
  JOIN pg_class c ON c.oid = pt.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class pc ON pc.oid = pt.parentrelid
  JOIN pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE pt.level > 0
 ORDER BY pt.level, n.nspname, c.relname
