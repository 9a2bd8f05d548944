SELECT pg_advisory_lock(hashtext('ferry.schema_migrate'))
