-- what else of table $1 its shadow $2::text takes over: ('before', statement) run before the swap,
-- ('after', statement) once the shadow has the table's name, ('warning', message) for what it cannot
SELECT 'before', format('GRANT %s ON TABLE %s TO %s%s', a.privilege_type, $2::text,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
  FROM pg_catalog.pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1::regclass AND a.grantee <> c.relowner
UNION ALL
SELECT 'before', format('ALTER TABLE %s OWNER TO %I', $2::text, pg_catalog.pg_get_userbyid(c.relowner))
  FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass AND pg_catalog.pg_get_userbyid(c.relowner) <> current_user
UNION ALL
SELECT 'before', format('COMMENT ON TABLE %s IS %L', $2::text, d.description)
  FROM pg_catalog.pg_description d
 WHERE d.objoid = $1::regclass AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
UNION ALL
-- a serial column's sequence moves to the shadow's column (its default already uses it)
SELECT 'before', format('ALTER SEQUENCE %s OWNED BY %s.%I', s.oid::regclass, $2::text, a.attname)
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1::regclass AND d.deptype = 'a'
UNION ALL
-- an identity column's new sequence takes the old one's name
SELECT 'after', format('ALTER SEQUENCE %s RENAME TO %I', pg_catalog.pg_get_serial_sequence($2::text, a.attname),
              (SELECT s.relname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid
                WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1::regclass
                  AND d.refobjsubid = a.attnum AND d.deptype = 'i' AND s.relkind = 'S'))
  FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::regclass AND a.attidentity <> '' AND NOT a.attisdropped
UNION ALL
SELECT 'warning', format('trigger %I is not carried over to the new table', t.tgname)
  FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal
UNION ALL
SELECT 'warning', format('row security policy %I is not carried over to the new table', p.polname)
  FROM pg_catalog.pg_policy p WHERE p.polrelid = $1::regclass
UNION ALL
SELECT 'warning', format('column privileges on %I are not carried over to the new table', a.attname)
  FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND a.attacl IS NOT NULL
UNION ALL
SELECT 'warning', format('membership in publication %I is not carried over to the new table', p.pubname)
  FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
 WHERE r.prrelid = $1::regclass
