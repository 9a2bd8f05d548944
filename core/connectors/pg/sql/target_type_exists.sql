SELECT to_regtype($1) IS NOT NULL
