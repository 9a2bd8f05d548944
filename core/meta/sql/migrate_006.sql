-- core/meta/sql/migrate_006.sql: jobs stored before "objects", "schemas" and "values" existed get their defaults
UPDATE ferry.jobs
   SET spec = jsonb_build_object('objects', 'tables', 'schemas', '{}'::jsonb,
				 'values', jsonb_build_object('zero_dates', 'null', 'nul_characters', 'fail'))
	      || spec
 WHERE NOT (spec ? 'objects' AND spec ? 'schemas' AND spec ? 'values');
