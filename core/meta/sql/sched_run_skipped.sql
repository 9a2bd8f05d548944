INSERT INTO ferry.runs (id, job_id, job_name, spec, trigger, state, error, finished_at)
SELECT $1::uuid, j.id, j.name, j.spec, 'schedule', 'skipped',
       format('skipped: run %s of this job was still %s', a.id, a.state), now()
  FROM ferry.jobs j,
       LATERAL (SELECT r.id, r.state FROM ferry.runs r
                 WHERE r.job_id = j.id AND r.state IN ('queued', 'running', 'cancelling')) a
 WHERE j.id = $2::uuid
RETURNING error
