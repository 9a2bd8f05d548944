SELECT format('CREATE SEQUENCE IF NOT EXISTS %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s',
              $1::text, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
              CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END)
  FROM pg_sequence s WHERE s.seqrelid = $1::text::regclass
