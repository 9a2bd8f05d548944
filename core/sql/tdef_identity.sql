SELECT format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s',
              s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
              CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END)
  FROM pg_sequence s WHERE s.seqrelid = $1::text::regclass
