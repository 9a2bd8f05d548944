SELECT setval(s, $3::bigint, $4::bool) FROM pg_get_serial_sequence($1, $2) s WHERE s IS NOT NULL
