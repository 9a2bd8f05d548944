CREATE SCHEMA IF NOT EXISTS ferry; CREATE TABLE IF NOT EXISTS ferry.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
