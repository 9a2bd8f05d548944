-- the source's user schemas: pg_dump leaves out every one that holds none of the run's tables
SELECT n.nspname
  FROM pg_namespace n
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY n.nspname
