SELECT count(*) FROM ferry.jobs
