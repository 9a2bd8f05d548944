SELECT coalesce(max(version), 0) FROM ferry.schema_version
