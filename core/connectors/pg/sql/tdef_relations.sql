-- the tables named by the arrays of schemas $1 and names $2, by their position there:
-- oid, kind, partition key, partition bound, the name as pg_get_indexdef prints it, and the
-- storage parameters of the table and its TOAST table as CREATE TABLE … WITH takes them
SELECT w.i, c.oid, c.relkind,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       quote_ident(w.schema) || '.' || quote_ident(w.name),
       (SELECT string_agg(o.k || '=' || quote_literal(o.v), ', ')
          FROM (SELECT option_name, option_value FROM pg_options_to_table(c.reloptions)
                UNION ALL
                SELECT 'toast.' || option_name, option_value
                  FROM pg_class tc, pg_options_to_table(tc.reloptions)
                 WHERE tc.oid = c.reltoastrelid) o(k, v))
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY w(schema, name, i)
  JOIN pg_namespace n ON n.nspname = w.schema
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
 ORDER BY w.i
