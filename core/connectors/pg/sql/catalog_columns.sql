-- the columns of the tables named by the arrays of schemas $1 and names $2, by
-- the table's position there
SELECT w.i, a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> ''
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY w(schema, name, i)
  JOIN pg_namespace n ON n.nspname = w.schema
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY w.i, a.attnum
