SELECT pg_advisory_unlock(hashtext('ferry.schema_migrate'))
