-- core/meta/sql/migrate_005.sql: indexes that keep a task claim cheap with thousands of tasks in a run
CREATE INDEX run_tasks_loading ON ferry.run_tasks (run_id, kind, phase) WHERE state = 'loading';
CREATE INDEX run_tasks_queued_steps ON ferry.run_tasks (run_id, seq) WHERE state = 'queued' AND kind = 'step';
CREATE INDEX run_tasks_queued_copies ON ferry.run_tasks (run_id, seq) WHERE state = 'queued' AND kind = 'copy';
