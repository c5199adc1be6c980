-- Plan advice: each finding of sdp.explain_advice() triggered by data made
-- for it, and absent on the fixed variant.
SET client_min_messages = warning;
CREATE SCHEMA pa;
SET search_path = pa, public;
SET max_parallel_workers_per_gather = 0;
SET jit = off;
CREATE FUNCTION findings(q text, allow_writes boolean DEFAULT false)
RETURNS TABLE (node text, finding text, severity text)
LANGUAGE sql AS $$
    SELECT node_type || coalesce(' on ' || relation, ''),
           regexp_replace(finding, '[0-9]+(\.[0-9]+)?', 'N', 'g'), severity
      FROM sdp.explain_advice(q, allow_writes => allow_writes)
     WHERE finding <> 'time' ORDER BY 1, 2 $$;

-- correlated columns: the planner multiplies their selectivities
CREATE TABLE farms (id int PRIMARY KEY, region text, district text, note text);
INSERT INTO farms SELECT g, 'r' || (g % 50), 'd' || (g % 50), repeat('x', 50) FROM generate_series(1, 50000) g;
VACUUM ANALYZE farms;
SELECT * FROM findings($$SELECT count(*) FROM farms WHERE region = 'r7' AND district = 'd7'$$);
SELECT suggestion FROM sdp.explain_advice($$SELECT count(*) FROM farms WHERE region = 'r7' AND district = 'd7'$$)
 WHERE finding LIKE 'row estimate%';
CREATE STATISTICS farms_rd (dependencies) ON region, district FROM farms;
ANALYZE farms;
-- fixed: the estimate is right, the filter still throws most rows away
SELECT * FROM findings($$SELECT count(*) FROM farms WHERE region = 'r7' AND district = 'd7'$$);
CREATE INDEX ON farms (region, district);
-- fixed again: nothing left to say
SELECT * FROM findings($$SELECT count(*) FROM farms WHERE region = 'r7' AND district = 'd7'$$);

-- a filter on an expression: no index on the bare column is proposed
CREATE TABLE people (id int, email text);
INSERT INTO people SELECT g, 'P' || g || '@x' FROM generate_series(1, 50000) g;
VACUUM ANALYZE people;
SELECT regexp_replace(finding, '[0-9]+', 'N') AS finding, suggestion
  FROM sdp.explain_advice($$SELECT id FROM people WHERE lower(email) = 'p7@x'$$)
 WHERE finding <> 'time' ORDER BY 1;
-- a partition's scan: the index goes on the partitioned table
CREATE TABLE visits (id int, at date NOT NULL, farm_id int) PARTITION BY RANGE (at);
CREATE TABLE visits_2026 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO visits SELECT g, '2026-01-01'::date + g % 300, g % 1000 FROM generate_series(1, 50000) g;
VACUUM ANALYZE visits;
SELECT relation, finding, suggestion FROM sdp.explain_advice($$SELECT count(*) FROM visits WHERE farm_id = 7$$)
 WHERE finding LIKE 'filter%';

-- a sort and a hash that spill with work_mem = 64kB, not with 64MB
SET work_mem = '64kB';
SELECT * FROM findings($$SELECT * FROM farms ORDER BY note, id$$);
SET enable_mergejoin = off;
SELECT * FROM findings($$SELECT count(*) FROM farms a JOIN farms b ON a.note || a.id = b.note || b.id$$);
SET work_mem = '64MB';
SELECT * FROM findings($$SELECT * FROM farms ORDER BY note, id$$);
SELECT * FROM findings($$SELECT count(*) FROM farms a JOIN farms b ON a.note || a.id = b.note || b.id$$);
RESET work_mem; RESET enable_mergejoin;

-- a nested loop scanning its inner side 1,000 times, then with an index
CREATE TABLE deliveries (id int, farm_id int, liters int);
INSERT INTO deliveries SELECT g, g % 2000, g FROM generate_series(1, 4000) g;
VACUUM ANALYZE deliveries;
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
SELECT * FROM findings($$SELECT count(*) FROM farms f JOIN deliveries d ON d.farm_id = f.id WHERE f.id <= 1500$$);
RESET enable_indexscan; RESET enable_bitmapscan; RESET enable_indexonlyscan;
CREATE INDEX ON deliveries (farm_id);
SELECT * FROM findings($$SELECT count(*) FROM farms f JOIN deliveries d ON d.farm_id = f.id WHERE f.id <= 1500$$);
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material;

-- a subplan run once per outer row, then as a join
SELECT * FROM findings($$SELECT f.id, (SELECT sum(liters) FROM deliveries d WHERE d.farm_id = f.id) FROM farms f WHERE f.id <= 500$$);
SELECT * FROM findings($$SELECT f.id, s.total FROM farms f LEFT JOIN (SELECT farm_id, sum(liters) AS total FROM deliveries GROUP BY farm_id) s ON s.farm_id = f.id WHERE f.id <= 500$$);

-- an index-only scan visiting the heap (visibility map not set), then after VACUUM
CREATE TABLE readings (id int, v int);
INSERT INTO readings SELECT g, g FROM generate_series(1, 20000) g;
CREATE INDEX ON readings (id, v);
ANALYZE readings;
SET enable_seqscan = off; SET enable_bitmapscan = off;
SELECT * FROM findings($$SELECT count(v) FROM readings WHERE id < 5000$$);
VACUUM readings;
SELECT * FROM findings($$SELECT count(v) FROM readings WHERE id < 5000$$);
RESET enable_seqscan; RESET enable_bitmapscan;

-- a lossy bitmap with a small work_mem
CREATE TABLE wide (id int, pad text);
INSERT INTO wide SELECT g, repeat('p', 300) FROM generate_series(1, 40000) g;
CREATE INDEX ON wide (id);
VACUUM ANALYZE wide;
SET work_mem = '64kB'; SET enable_seqscan = off; SET enable_indexscan = off;
SELECT * FROM findings($$SELECT count(*) FROM wide WHERE id < 39000$$);
SET work_mem = '64MB';
SELECT * FROM findings($$SELECT count(*) FROM wide WHERE id < 39000$$);
RESET work_mem; RESET enable_seqscan; RESET enable_indexscan;

-- the finding list starts at the node that costs most
SET work_mem = '64kB';
SELECT node_type, finding FROM sdp.explain_advice($$SELECT * FROM farms ORDER BY note, id$$) LIMIT 1;
SELECT node_type, (figures ->> 'share_pct')::numeric >= 50 AS most_of_the_time
  FROM sdp.explain_advice($$SELECT * FROM farms ORDER BY note, id$$) WHERE finding = 'time' LIMIT 1;
RESET work_mem;

-- writes: refused, or run and rolled back
CREATE TABLE counters (n int);
INSERT INTO counters VALUES (1);
SELECT * FROM sdp.explain_advice($$UPDATE counters SET n = n + 1$$);
SELECT count(*) >= 0 AS explained FROM sdp.explain_advice($$UPDATE counters SET n = n + 1$$, allow_writes => true);
SELECT count(*) >= 0 AS explained FROM sdp.explain_advice($$WITH x AS (DELETE FROM counters RETURNING 1) SELECT count(*) FROM x$$, allow_writes => true);
SELECT n FROM counters;
SELECT count(*) >= 0 AS plan_only FROM sdp.explain_advice($$DELETE FROM counters$$, false);
SELECT count(*) >= 0 AS plan_only FROM sdp.explain_advice($$DELETE FROM counters$$, "analyze" => false);
SELECT n FROM counters;
-- a SELECT whose function writes is rolled back too
CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS $$ UPDATE counters SET n = n + 100 RETURNING n $$;
SELECT count(*) >= 0 AS explained FROM sdp.explain_advice($$SELECT bump()$$);
SELECT n FROM counters;
-- the caller's statement_timeout holds
SET statement_timeout = '200ms';
SELECT * FROM sdp.explain_advice($$SELECT pg_sleep(2)$$);
RESET statement_timeout;
-- (no "prepared statement already exists" after the cancel)
SELECT count(*) >= 0 AS explained_after_a_cancel FROM sdp.explain_advice($$SELECT 1$$);

-- bad input
SELECT * FROM sdp.explain_advice(NULL);
SELECT * FROM sdp.explain_advice('SELECT 1; DELETE FROM counters');
SELECT n FROM counters;
SELECT * FROM sdp.explain_advice('SELECT * FROM counters WHERE n = $1');
SELECT count(*) AS no_statement_left FROM pg_prepared_statements WHERE name = 'sdp_explain_advice';
SELECT * FROM sdp.explain_advice('SELECT * FROM no_such_table');
SELECT * FROM sdp.explain_advice('VACUUM counters');
SELECT * FROM sdp.explain_advice('CREATE TABLE copied AS SELECT * FROM counters');
-- a statement cannot pass its own SQLSTATE SDP01 off as the plan
CREATE FUNCTION forged() RETURNS int LANGUAGE plpgsql AS
$f$BEGIN RAISE EXCEPTION USING ERRCODE = 'SDP01', MESSAGE = '[{"Plan": {"Node Type": "<made up>"}}]'; END$f$;
SELECT * FROM sdp.explain_advice('SELECT forged()');
SELECT count(*) AS no_statement_left FROM pg_prepared_statements WHERE name = 'sdp_explain_advice';

RESET search_path;
DROP SCHEMA pa CASCADE;

-- findings that need a server in a state a test cannot count on (JIT
-- compiled, parallel workers refused, planning slower than execution),
-- read off JSON plans as EXPLAIN prints them
SELECT finding, severity FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Result", "Plan Rows": 1,
  "Actual Rows": 1, "Actual Loops": 1, "Actual Total Time": 0.010},
  "Planning Time": 2.5, "Execution Time": 0.020}]$$);
SELECT finding FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Result", "Plan Rows": 1,
  "Actual Rows": 1, "Actual Loops": 1, "Actual Total Time": 0.010},
  "Planning Time": 2.5, "Execution Time": 0.020}]$$, executions => 1);
SELECT finding FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Plan Rows": 100,
  "Actual Rows": 100, "Actual Loops": 1, "Actual Total Time": 5.0},
  "Planning Time": 0.1, "Execution Time": 20.0,
  "JIT": {"Timing": {"Total": 15.0}}}]$$);
SELECT finding FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Gather", "Workers Planned": 4, "Workers Launched": 1,
  "Plan Rows": 100, "Actual Rows": 100, "Actual Loops": 1, "Actual Total Time": 5.0,
  "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "t",
             "Plan Rows": 25, "Actual Rows": 25, "Actual Loops": 2, "Actual Total Time": 2.0}]},
  "Planning Time": 0.1, "Execution Time": 5.5}]$$) WHERE finding <> 'time';
SELECT finding FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Gather", "Workers Planned": 4, "Workers Launched": 4,
  "Plan Rows": 100, "Actual Rows": 100, "Actual Loops": 1, "Actual Total Time": 5.0},
  "Planning Time": 0.1, "Execution Time": 5.5}]$$) WHERE finding <> 'time';
SELECT finding FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Nested Loop", "Plan Rows": 500,
  "Actual Rows": 500, "Actual Loops": 1, "Actual Total Time": 50.0,
  "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "a",
             "Plan Rows": 500, "Actual Rows": 500, "Actual Loops": 1, "Actual Total Time": 1.0},
            {"Node Type": "CTE Scan", "Parent Relationship": "Inner", "CTE Name": "totals",
             "Plan Rows": 1, "Actual Rows": 1, "Actual Loops": 500, "Actual Total Time": 0.09}]},
  "Planning Time": 0.1, "Execution Time": 50.5}]$$) WHERE finding <> 'time';
-- a plan without actual rows (EXPLAIN without ANALYZE) has nothing measured to report
SELECT count(*) AS findings FROM sdp._plan_findings($$[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t",
  "Plan Rows": 100000}}]$$);
