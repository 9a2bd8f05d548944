INSERT INTO ferry.runs (id, job_id, job_name, spec, trigger, params, backfill_id)
SELECT $1::uuid, j.id, j.name, j.spec, $3, $4::jsonb, $5::uuid FROM ferry.jobs j WHERE j.id = $2::uuid
    ON CONFLICT (job_id) WHERE state IN ('queued', 'running', 'cancelling') DO NOTHING
RETURNING id::text
