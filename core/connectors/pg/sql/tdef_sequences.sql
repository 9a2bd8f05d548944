-- the sequences named in $1, by their position there: the CREATE SEQUENCE of a
-- serial column's or of one a default calls, the options of an identity column's,
-- and the sequence's schema
SELECT w.i,
       format('CREATE SEQUENCE IF NOT EXISTS %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s',
              w.name, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
              CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END),
       format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s',
              s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
              CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END),
       n.nspname
  FROM unnest($1::text[]) WITH ORDINALITY w(name, i)
  JOIN pg_sequence s ON s.seqrelid = w.name::regclass
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 ORDER BY w.i
