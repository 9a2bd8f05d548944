-- the functions of the source's own schemas (not of an extension) that the column
-- defaults, generated columns and check constraints of table $1 call
SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(p.proname)
       || '(' || pg_get_function_identity_arguments(p.oid) || ')'
  FROM pg_depend d
  JOIN pg_proc p ON p.oid = d.refobjid
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE d.refclassid = 'pg_proc'::regclass
   AND ((d.classid = 'pg_attrdef'::regclass
         AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = $1::regclass))
        OR (d.classid = 'pg_constraint'::regclass
            AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c')))
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_depend e
                    WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
 ORDER BY 1
