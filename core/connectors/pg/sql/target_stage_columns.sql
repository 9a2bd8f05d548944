SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'pg_temp.ferry_stage'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> '_ferry_deleted' ORDER BY a.attnum
