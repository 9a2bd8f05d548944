-- the indexes and constraints of table $1 rebuilt on its shadow $2::text under temporary names
-- prefixed $3::text: (kind, name, temporary name, statement or NULL when it cannot be rebuilt)
WITH t AS (
    SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass
), items AS (
    SELECT CASE WHEN k.contype = 'f' THEN 3 ELSE 1 END AS ord, k.oid AS o, 'constraint' AS kind,
           k.conname::text AS name, pg_catalog.pg_get_constraintdef(k.oid) AS def, false AS uniq
      FROM pg_catalog.pg_constraint k, t WHERE k.conrelid = t.oid AND k.contype IN ('p', 'u', 'x', 'f')
    UNION ALL
    SELECT 2, i.indexrelid, 'index', ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid), i.indisunique
      FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid, t
     WHERE i.indrelid = t.oid
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = t.oid)
), named AS (
    SELECT items.*, format('%s_%s', $3::text, row_number() OVER (ORDER BY ord, o)) AS tmp,
           format('CREATE %sINDEX %I ON %I.%I USING ', CASE WHEN uniq THEN 'UNIQUE ' END, name, t.nspname, t.relname) AS prefix
      FROM items, t
)
SELECT kind, name, tmp,
       CASE WHEN kind = 'constraint' THEN format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2::text, tmp, def)
            WHEN starts_with(def, prefix)
            THEN format('CREATE %sINDEX %I ON %s USING ', CASE WHEN uniq THEN 'UNIQUE ' END, tmp, $2::text) || substr(def, length(prefix) + 1)
       END
  FROM named ORDER BY ord, o
