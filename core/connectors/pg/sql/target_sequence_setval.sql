-- set sequence $1 (a qualified name) to $2, is_called $3, when the target has it
SELECT setval(s, $2::bigint, $3::bool) FROM to_regclass($1) s WHERE s IS NOT NULL
