SELECT coalesce(jsonb_object_agg(source_label, jsonb_build_object('value', value, 'cursor', cursor_column)), '{}')::text FROM ferry.marks WHERE job_id = $1::uuid
