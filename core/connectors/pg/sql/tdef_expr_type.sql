SELECT format_type($1::oid, $2::int)
