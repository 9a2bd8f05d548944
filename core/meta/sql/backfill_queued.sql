UPDATE ferry.backfills SET queued = queued + 1, windows = jsonb_set(windows, ARRAY[queued::text, 'run_id'], to_jsonb($2::text)) WHERE id = $1::uuid
