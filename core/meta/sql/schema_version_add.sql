INSERT INTO ferry.schema_version (version) VALUES ($1)
