-- claim the next task of a run this instance owns: post-load steps first
-- (they finish tables), then the copies in seq order (see plan_tasks). Each
-- probe walks a partial index and stops at the first task that may start, so
-- a claim costs the same with ten tasks queued or ten thousand.
WITH owned AS (
    SELECT r.id, r.created_at,
           coalesce((r.spec -> 'load' ->> 'parallel')::int, 1) AS copy_slots,
           coalesce((r.spec -> 'load' ->> 'index_parallel')::int, 1) AS step_slots,
           a.copies_loading, a.steps_loading
      FROM ferry.runs r,
           -- a copy loaded in parts takes as many of the run's copy slots as it has streams
           LATERAL (SELECT coalesce(sum(coalesce((o.copy -> 'split' ->> 'streams')::int, 1))
                                    FILTER (WHERE o.kind = 'copy'), 0) AS copies_loading,
                           count(*) FILTER (WHERE o.kind = 'step') AS steps_loading
                      FROM ferry.run_tasks o
                     WHERE o.run_id = r.id AND o.state = 'loading') a
     WHERE r.state = 'running' AND r.owner = $1::uuid AND r.snapshot IS NOT NULL
), next AS (
    -- slots: how many of the run's copy or step slots the task takes
    SELECT c.id, c.slots
      FROM owned r,
           LATERAL ((SELECT t.id, 0 AS pass, t.seq, 1 AS slots
                       FROM ferry.run_tasks t
                      WHERE r.steps_loading < r.step_slots
                        AND t.run_id = r.id AND t.state = 'queued' AND t.kind = 'step'
                        AND (t.not_before IS NULL OR t.not_before <= now())
                        AND CASE WHEN t.phase = 1
                                 THEN (SELECT d.state FROM ferry.run_tasks d WHERE d.id = t.depends_on) = 'loaded'
                                 -- phase 2 waits for every table and its own steps
                                 WHEN t.phase = 2
                                 THEN NOT EXISTS (SELECT 1 FROM ferry.run_tasks o
                                                   WHERE o.run_id = t.run_id AND o.state = 'loading'
                                                     AND (o.kind = 'copy' OR o.phase = 1))
                                      AND NOT EXISTS (SELECT 1 FROM ferry.run_tasks o
                                                       WHERE o.run_id = t.run_id AND o.state = 'queued'
                                                         AND (o.kind = 'copy' OR o.phase = 1))
                                      -- an object step may wait for another (a refresh, a comment)
                                      AND (t.depends_on IS NULL
                                           OR (SELECT d.state FROM ferry.run_tasks d WHERE d.id = t.depends_on) = 'loaded')
                                 -- phase 3, the job's after statements: once everything else is done, in order
                                 ELSE NOT EXISTS (SELECT 1 FROM ferry.run_tasks o
                                                   WHERE o.run_id = t.run_id AND o.state = 'loading' AND o.phase < 3)
                                      AND NOT EXISTS (SELECT 1 FROM ferry.run_tasks o
                                                       WHERE o.run_id = t.run_id AND o.state = 'queued' AND o.phase < 3)
                                      AND (t.depends_on IS NULL
                                           OR (SELECT d.state FROM ferry.run_tasks d WHERE d.id = t.depends_on) = 'loaded')
                            END
                      ORDER BY t.seq LIMIT 1)
                    UNION ALL
                    -- the next copy, with as many of its streams as slots are free: a
                    -- table to load in parts never leaves a worker waiting for a slot
                    (SELECT t.id, 1 AS pass, t.seq,
                            least(coalesce((t.copy -> 'split' ->> 'streams')::int, 1),
                                  r.copy_slots - r.copies_loading) AS slots
                       FROM ferry.run_tasks t
                      WHERE r.copies_loading < r.copy_slots
                        AND t.run_id = r.id AND t.state = 'queued' AND t.kind = 'copy'
                        AND (t.not_before IS NULL OR t.not_before <= now())
                      ORDER BY t.seq LIMIT 1)) c
     ORDER BY r.created_at, c.pass, c.seq
     LIMIT 1
), claimed AS (
    -- claims are made one at a time per ferryd and only the owner claims a
    -- run's tasks; the state test makes a concurrent change (a cancel) win
    UPDATE ferry.run_tasks t
       SET state = 'loading', attempts = t.attempts + 1, owner = $1::uuid,
           lease_until = now() + interval '60 seconds', started_at = now(), finished_at = NULL,
           rows = 0, bytes = 0, not_before = NULL,
           -- the streams it was given, which the slot count above reads back
           copy = CASE WHEN t.kind = 'copy' AND t.copy ? 'split'
                        AND (t.copy -> 'split' ->> 'streams')::int > next.slots
                       THEN jsonb_set(t.copy, '{split,streams}', to_jsonb(next.slots))
                       ELSE t.copy END
      FROM next WHERE t.id = next.id AND t.state = 'queued'
    RETURNING t.*
), started AS (
    -- the table_started event in the same round trip and commit as the claim
    INSERT INTO ferry.run_events (run_id, level, tbl, kind, message)
    SELECT c.run_id, 'info', c.source_label, 'table_started',
           format('loading into %s (%s COPY)', c.target_label, c.copy ->> 'format')
      FROM claimed c WHERE c.kind = 'copy'
)
SELECT c.id, c.run_id::text, c.source_schema, c.source_table, c.target_schema, c.target_table,
       c.source_label, c.target_label, coalesce(c.filter, ''), r.spec::text, r.snapshot,
       c.kind, coalesce(c.copy::text, ''), coalesce(c.step_kind, ''), coalesce(c.step_name, ''),
       coalesce(c.step_sql, ''), c.attempts,
       -- the claim of a copy that may be done again commits without waiting
       -- for the WAL flush (see "Bookkeeping durability" in the README)
       set_config('synchronous_commit',
                  CASE WHEN c.kind = 'copy'
                            AND coalesce(c.copy ->> 'mode', r.spec -> 'load' ->> 'mode')
                                IN ('replace', 'drop', 'swap', 'upsert')
                       THEN 'off' ELSE 'on' END, true),
       -- whether another claim may find something now: another run, or a
       -- queued task after this one of a kind with a slot still free after
       -- this claim (each probe starts at this task's place in a partial
       -- index, past the entries of tasks claimed before it)
       (SELECT count(*) FROM owned) > 1
       OR (o.copies_loading + CASE WHEN c.kind = 'copy' THEN n.slots ELSE 0 END < o.copy_slots
           AND EXISTS (SELECT 1 FROM ferry.run_tasks x
                        WHERE x.run_id = c.run_id AND x.state = 'queued' AND x.kind = 'copy' AND x.seq > c.seq))
       OR (o.steps_loading + CASE WHEN c.kind = 'step' THEN n.slots ELSE 0 END < o.step_slots
           AND EXISTS (SELECT 1 FROM ferry.run_tasks x
                        WHERE x.run_id = c.run_id AND x.state = 'queued' AND x.kind = 'step' AND x.seq > c.seq))
  FROM claimed c JOIN ferry.runs r ON r.id = c.run_id JOIN owned o ON o.id = c.run_id
  JOIN next n ON n.id = c.id
