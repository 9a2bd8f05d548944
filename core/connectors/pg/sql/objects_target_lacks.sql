-- what the target lacks of the roles ($1) and extensions ($2) the source's objects need
SELECT 'role', r FROM unnest($1::text[]) r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)
UNION ALL
SELECT 'extension', x FROM unnest($2::text[]) x
 WHERE NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = x)
