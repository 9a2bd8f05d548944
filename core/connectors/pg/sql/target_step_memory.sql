SELECT set_config('maintenance_work_mem', '256MB', false) FROM pg_settings WHERE name = 'maintenance_work_mem' AND setting::bigint < 262144
