-- the partitions, at every level, of the partitioned tables named by the arrays
-- of schemas $1 and names $2, by the partitioned table's position there
SELECT w.i, n.nspname, c.relname, c.relkind, pt.level, pt.isleaf,
       CASE WHEN pt.isleaf THEN greatest(c.reltuples, 0)::bigint ELSE 0 END,
       CASE WHEN pt.isleaf THEN pg_table_size(c.oid) ELSE 0 END,
       c.reltuples >= 0 OR NOT pt.isleaf,
       pn.nspname, pc.relname
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY w(schema, name, i)
  JOIN pg_namespace n2 ON n2.nspname = w.schema
  JOIN pg_class c2 ON c2.relnamespace = n2.oid AND c2.relname = w.name
  CROSS JOIN LATERAL pg_partition_tree(c2.oid) pt
  JOIN pg_class c ON c.oid = pt.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class pc ON pc.oid = pt.parentrelid
  JOIN pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE pt.level > 0
 ORDER BY w.i, pt.level, n.nspname, c.relname
