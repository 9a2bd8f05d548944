-- what keeps a table from being replaced by a renamed shadow table, or ''
SELECT concat_ws('; ',
       (SELECT 'views depend on it (' || string_agg(DISTINCT v.oid::regclass::text, ', ') || ')'
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
          JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
         WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
           AND d.refobjid = $1::regclass AND v.oid <> $1::regclass),
       (SELECT 'foreign keys reference it (' || string_agg(format('%I on %s', c.conname, c.conrelid::regclass), ', ') || ')'
          FROM pg_catalog.pg_constraint c WHERE c.contype = 'f' AND c.confrelid = $1::regclass),
       (SELECT 'it is a partition of ' || i.inhparent::regclass::text
          FROM pg_catalog.pg_inherits i WHERE i.inhrelid = $1::regclass LIMIT 1),
       (SELECT 'other tables inherit from it'
          FROM pg_catalog.pg_inherits i WHERE i.inhparent = $1::regclass LIMIT 1),
       (SELECT 'it is partitioned' FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass AND c.relkind = 'p'))
