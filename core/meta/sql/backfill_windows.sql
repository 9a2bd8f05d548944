-- [from, to) in steps of an interval, at most $4 windows, in UTC; boundaries are
-- shown as dates when every one of them is a midnight, as timestamps otherwise
WITH w AS (SELECT lo, least(lo + $3::interval, $2::timestamptz) AS hi
             FROM generate_series($1::timestamptz, $2::timestamptz, $3::interval) lo
            WHERE lo < $2::timestamptz
            LIMIT $4::integer),
     d AS (SELECT coalesce(bool_and(lo = date_trunc('day', lo) AND hi = date_trunc('day', hi)), true) AS days
             FROM w),
     f AS (SELECT w.lo AS k,
                  CASE WHEN d.days THEN to_char(w.lo, 'YYYY-MM-DD')
                       ELSE to_char(w.lo, 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_trunc('second', w.lo) <> w.lo THEN to_char(w.lo, '.US') ELSE '' END
                            || '+00' END AS lo,
                  CASE WHEN d.days THEN to_char(w.hi, 'YYYY-MM-DD')
                       ELSE to_char(w.hi, 'YYYY-MM-DD"T"HH24:MI:SS')
                            || CASE WHEN date_trunc('second', w.hi) <> w.hi THEN to_char(w.hi, '.US') ELSE '' END
                            || '+00' END AS hi
             FROM w, d)
SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('from', lo, 'to', hi) ORDER BY k), '[]')::text
  FROM f
