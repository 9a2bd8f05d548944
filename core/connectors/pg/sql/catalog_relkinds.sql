-- the kind of each relation named by the arrays of schemas $1 and names $2, in
-- their order: one row each, NULL when there is none
SELECT w.i, c.relkind
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY w(schema, name, i)
  LEFT JOIN pg_namespace n ON n.nspname = w.schema
  LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
 ORDER BY w.i
