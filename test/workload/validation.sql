-- Measured proof, printed by test/demo.sh after the second workload: each
-- index named in psql variable indexes (comma separated; title: what they
-- are), and the profiled statements whose plan uses it, run again
-- from their samples with the index visible and hidden (sdp.validate_index:
-- read-only, rolled back, 3 runs each way, 2 s timeout).  An index the
-- planner prices as a win can measure slower: it says so.
\pset footer off
\echo
\echo === :title, measured (sdp.validate_index) ===
SELECT n AS index, v.verdict, v.ms_with_index AS ms_with, v.ms_without_index AS ms_without,
       v.speedup, left(regexp_replace(v.sample_query, '\s+', ' ', 'g'), 60) AS statement
  FROM unnest(string_to_array(:'indexes', ',')) n
 CROSS JOIN LATERAL sdp.validate_index(n::regclass, 3, 2000) v
 ORDER BY n, v.total_exec_ms DESC;
