SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> ''
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = $1 AND c.relname = $2
 ORDER BY a.attnum
