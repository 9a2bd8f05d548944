-- the sequences named in $1, by their position there: the CREATE SEQUENCE of a
-- serial column's, and the options of an identity column's
SELECT w.i,
       format('CREATE SEQUENCE IF NOT EXISTS %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s',
              w.name, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
              CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END),
       format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s',
              s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
              CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END)
  FROM unnest($1::text[]) WITH ORDINALITY w(name, i)
  JOIN pg_sequence s ON s.seqrelid = w.name::regclass
 ORDER BY w.i
