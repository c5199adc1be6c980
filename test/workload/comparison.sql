-- Before/after, printed at the end of test/demo.sh: the baseline snapshot
-- against the same workload run again with the advisor's indexes.
\pset footer off
\echo
\echo '=== Before and after the advisor''s indexes (sdp.compare) ==========='
SELECT status, left(regexp_replace(query, '\s+', ' ', 'g'), 55) AS query,
       calls_before AS calls_b, calls_after AS calls_a,
       mean_ms_before AS mean_ms_b, mean_ms_after AS mean_ms_a, mean_change_pct AS "mean_%",
       p95_ms_before AS p95_b, p95_ms_after AS p95_a
  FROM sdp.compare('baseline', 'with advised indexes')
 WHERE status = 'workload' OR query NOT LIKE '%sdp.%'
 LIMIT 12;
