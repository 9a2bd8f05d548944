INSERT INTO ferry.runs (id, job_id, job_name, spec, trigger, params, tables_requested) SELECT $1::uuid, j.id, j.name, j.spec, $3, $4::jsonb, $5::jsonb FROM ferry.jobs j WHERE j.id = $2::uuid
