--
-- Statistics add up: calls, rows, times, percentiles, buffers, WAL,
-- per-application breakdown, nesting, failures, resets, slow queries.
--
SET smart_dairy_perf.track = 'top';
SET smart_dairy_perf.slow_query_ms = -1;
CREATE TABLE milk_records (id int PRIMARY KEY, farm_id int, liters numeric);
INSERT INTO milk_records SELECT g, g % 50, (g % 37) + 0.5 FROM generate_series(1, 5000) g;
ANALYZE milk_records;
SELECT sdp.reset() >= 0 AS reset;

-- 11 point lookups with different constants: one shape
SELECT liters FROM milk_records WHERE id = 1;
SELECT liters FROM milk_records WHERE id = 2;
SELECT liters FROM milk_records WHERE id = 3;
SELECT liters FROM milk_records WHERE id = 4;
SELECT liters FROM milk_records WHERE id = 5;
SELECT liters FROM milk_records WHERE id = 6;
SELECT liters FROM milk_records WHERE id = 7;
SELECT liters FROM milk_records WHERE id = 8;
SELECT liters FROM milk_records WHERE id = 9;
SELECT liters FROM milk_records WHERE id = 10;
SELECT liters FROM milk_records WHERE id = -1;
SELECT count(*) FROM milk_records WHERE farm_id = 7;
SELECT count(*) FROM milk_records WHERE farm_id = 8;

SELECT query, calls, rows,
       total_exec_time >= 0 AS time_ok,
       min_exec_time <= p50_exec_time AND p50_exec_time <= p95_exec_time
         AND p95_exec_time <= p99_exec_time AND p99_exec_time <= max_exec_time
         AS percentiles_ordered,
       abs(mean_exec_time * calls - total_exec_time) < 0.001 AS mean_ok,
       stddev_exec_time >= 0 AS stddev_ok,
       shared_blks_hit + shared_blks_read > 0 AS touched_buffers,
       first_seen <= last_seen AS seen_ok,
       toplevel, application_name
  FROM sdp.query_stats
 WHERE query LIKE '%milk_records%'
 ORDER BY query COLLATE "C";

-- WAL is counted for writes
UPDATE milk_records SET liters = liters + 1 WHERE farm_id = 3;
SELECT calls, rows, wal_records >= rows AS wal_records_ok, wal_bytes > 0 AS wal_bytes_ok
  FROM sdp.query_stats WHERE query LIKE 'UPDATE milk_records%';

-- the same statement from two applications: two rows, one total
SET application_name = 'web_read';
SELECT max(liters) FROM milk_records WHERE farm_id = 1;
SELECT max(liters) FROM milk_records WHERE farm_id = 2;
SET application_name = 'erp_write';
SELECT max(liters) FROM milk_records WHERE farm_id = 3;
RESET application_name;
SELECT application_name, calls FROM sdp.query_stats
 WHERE query LIKE 'SELECT max(liters)%' ORDER BY application_name;
SELECT calls, rows, p50_exec_time <= p99_exec_time AS ordered
  FROM sdp.query_totals WHERE query LIKE 'SELECT max(liters)%';

-- a failing execution is not counted, and leaves the counters consistent
SELECT 10 / x AS q FROM (VALUES (2)) v(x);
SELECT 10 / x AS q FROM (VALUES (0)) v(x);
SELECT 10 / x AS q FROM (VALUES (5)) v(x);
SELECT calls, rows FROM sdp.query_stats WHERE query LIKE 'SELECT $1 / x%';

-- nested statements: counted only with track = all, as not top-level
CREATE FUNCTION farm_total(f int) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT sum(liters) FROM milk_records WHERE farm_id = f);
END $$;
SELECT farm_total(4) > 0 AS ok;
SELECT count(*) AS nested_with_top FROM sdp.query_stats WHERE NOT toplevel;
SET smart_dairy_perf.track = 'all';
SELECT farm_total(5) > 0 AS ok;
SELECT farm_total(6) > 0 AS ok;
SET smart_dairy_perf.track = 'top';
SELECT toplevel, calls, query FROM sdp.query_stats WHERE NOT toplevel;
-- an error inside a nested statement does not leave the nesting level off
SELECT farm_total(NULL::int) IS NULL AS null_ok;
DO $$ BEGIN PERFORM 1 / 0; EXCEPTION WHEN division_by_zero THEN NULL; END $$;
SELECT count(*) AS still_top FROM milk_records WHERE id = 42;
SELECT toplevel FROM sdp.query_stats WHERE query LIKE 'SELECT count(*) AS still_top%';

-- plain EXPLAIN runs nothing: not counted, not even with track = all;
-- EXPLAIN ANALYZE runs its statement, counted as nested with track = all
SET smart_dairy_perf.track = 'all';
EXPLAIN (COSTS OFF) SELECT count(*) AS explained FROM milk_records WHERE farm_id = 3;
EXPLAIN (COSTS OFF) SELECT count(*) AS explained FROM milk_records WHERE farm_id = 4;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*), 1 AS analyzed FROM milk_records WHERE farm_id = 3;
SET smart_dairy_perf.track = 'top';
SELECT toplevel, calls, query FROM sdp.query_stats
  WHERE query LIKE '%AS explained FROM%' OR query LIKE '%AS analyzed FROM%'
  ORDER BY toplevel, query COLLATE "C";

-- track = none records nothing; enabled = off neither
SET smart_dairy_perf.track = 'none';
SELECT 'invisible' AS a FROM milk_records WHERE id = 1;
SET smart_dairy_perf.track = 'top';
SET smart_dairy_perf.enabled = off;
SELECT 'invisible too' AS a FROM milk_records WHERE id = 1;
SET smart_dairy_perf.enabled = on;
SELECT count(*) FROM sdp.query_stats WHERE query LIKE '%invisible%';

-- slow queries: kept with their plan as asked
SET smart_dairy_perf.slow_query_ms = 20;
SET smart_dairy_perf.plan_capture = 'slow';
SELECT pg_sleep(0.03) IS NOT NULL AS slept;
SET smart_dairy_perf.plan_capture = 'slow_analyze';
SET smart_dairy_perf.plan_sample_rate = 1;
SELECT count(*) FROM milk_records m, pg_sleep(0.03) WHERE m.farm_id = 9;
SET smart_dairy_perf.plan_capture = 'off';
SELECT pg_sleep(0.025) IS NOT NULL AS slept_again;
SET smart_dairy_perf.slow_query_ms = -1;
SELECT query, duration_ms >= 20 AS slow, rows, plan_analyzed,
       plan IS NULL AS no_plan,
       plan LIKE '%actual rows=%' AS has_actual_rows,
       username = current_user AS mine, database = current_database() AS here
  FROM sdp.slow_queries ORDER BY executed_at;
-- costs depend on the platform; the shape of the plan does not
SELECT regexp_replace(plan, 'cost=[0-9.]+ rows=[0-9]+ width=[0-9]+', 'cost=...', 'g') AS plan
  FROM sdp.slow_queries WHERE query LIKE '%milk_records m%';

-- reset one shape, then everything
SELECT sdp.reset(queryid) AS removed
  FROM sdp.query_totals WHERE query LIKE 'SELECT liters FROM milk_records%';
SELECT count(*) AS gone FROM sdp.query_stats WHERE query LIKE 'SELECT liters FROM milk_records%';
SELECT count(*) > 0 AS others_kept FROM sdp.query_stats WHERE query LIKE 'SELECT count(*) FROM milk_records%';
SELECT sdp.reset(0);
SELECT sdp.reset() > 0 AS reset_all;
SELECT count(*) AS left_over FROM sdp.query_stats WHERE query NOT LIKE '%sdp.%';
SELECT count(*) AS slow_left FROM sdp.slow_queries;
SELECT entries >= 1 AS has_entries, evictions, max_queries,
       stats_reset > now() - interval '1 minute' AS recently_reset,
       shared_memory_bytes > 0 AS has_memory, percentile_max_error
  FROM sdp.profiler_info;

-- utility statements (track_utility, on by default): counted under
-- PostgreSQL's id for their text, with rows for COPY and CREATE TABLE AS;
-- PREPARE/EXECUTE count the prepared statement, not themselves
SELECT sdp.reset() >= 0 AS reset;
CREATE TEMP TABLE farm_copy AS SELECT * FROM milk_records WHERE farm_id = 1 AND id <= 200;
COPY farm_copy TO STDOUT WITH (FORMAT csv);
PREPARE farm_liters(int) AS SELECT sum(liters) AS prepared_sum FROM milk_records WHERE farm_id = $1;
EXECUTE farm_liters(1);
EXECUTE farm_liters(2);
DEALLOCATE farm_liters;
SET smart_dairy_perf.track_utility = off;
CREATE TEMP TABLE not_counted (x int);
RESET smart_dairy_perf.track_utility;
SELECT toplevel, calls, rows, query FROM sdp.pg_stat_statements
 WHERE query NOT LIKE '%sdp.%' ORDER BY query;
-- planning is counted only with track_planning
SET smart_dairy_perf.track_planning = on;
SELECT count(*) AS planned FROM milk_records WHERE farm_id = 1;
RESET smart_dairy_perf.track_planning;
SELECT plans, calls, total_plan_time > 0 AS plan_time
  FROM sdp.pg_stat_statements WHERE query LIKE '%AS planned%';
DROP FUNCTION farm_total(int);
DROP TABLE milk_records;
