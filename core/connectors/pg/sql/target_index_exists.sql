-- whether step $3 (of kind $4) on table $1.$2 is done on the target: an index
-- step when its index is there, any other when its constraint is (a primary
-- key or unique constraint's index may be there without the constraint)
SELECT ($4 = 'index' AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $3 AND c.relkind IN ('i', 'I')))
       OR EXISTS (SELECT 1 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND con.conname = $3)
