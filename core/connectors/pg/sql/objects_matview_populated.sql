-- whether materialized view $1.$2 holds data on the source
SELECT c.relispopulated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'm'
