-- What smart_dairy_perf found, printed at the end of test/demo.sh.
\pset footer off
\pset null '-'

\echo
\echo '=== Profiler ======================================================='
SELECT entries, evictions, slow_queries_captured,
       pg_size_pretty(shared_memory_bytes) AS shared_memory,
       round(100 * percentile_max_error) || ' %' AS percentile_error_bound
  FROM sdp.profiler_info;

\echo
\echo '=== Top 10 queries by total time (all applications) ==============='
SELECT calls,
       round(total_exec_time::numeric, 1) AS total_ms,
       round(mean_exec_time::numeric, 3) AS mean_ms,
       round(p50_exec_time::numeric, 3) AS p50_ms,
       round(p95_exec_time::numeric, 3) AS p95_ms,
       round(p99_exec_time::numeric, 3) AS p99_ms,
       round(max_exec_time::numeric, 3) AS max_ms,
       shared_blks_hit + shared_blks_read AS blocks,
       left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
  FROM sdp.query_totals
 ORDER BY total_exec_time DESC
 LIMIT 10;

\echo
\echo '=== Time by application (read and write pools) ===================='
SELECT application_name, count(*) AS shapes, sum(calls) AS calls,
       round(sum(total_exec_time)::numeric, 1) AS total_ms,
       round((sum(total_exec_time) / nullif(sum(calls), 0))::numeric, 3) AS mean_ms
  FROM sdp.query_stats
 GROUP BY application_name
 ORDER BY total_ms DESC;

\echo
\echo '=== N+1 patterns (statements repeated in a loop by one session, the application loops) ='
SELECT kind, nested, occurrences AS bursts, avg_repeats, max_repeats, avg_parent_rows AS parent_rows,
       CASE WHEN cardinality(loop_queryids) > 1
            THEN format('%s of %s', loop_position, cardinality(loop_queryids)) ELSE '-' END AS in_loop,
       round(total_exec_ms::numeric, 1) AS burst_ms, application_name AS app,
       left(regexp_replace(query, '\s+', ' ', 'g'), 50) AS repeated,
       left(regexp_replace(coalesce(parent_query, '-'), '\s+', ' ', 'g'), 45) AS after
  FROM sdp.n_plus_one;
\pset format unaligned
\pset tuples_only on
SELECT format(E'  -> %s', suggestion) FROM sdp.n_plus_one;
\pset tuples_only off
\pset format aligned

\echo
\echo '=== Partitions of orders (monthly, 3 ahead, retention 12 months) ==='
SELECT partition, range_from, range_to, row_estimate AS rows, size, is_default
  FROM sdp.partitions WHERE parent = 'orders'::regclass;
\echo '--- retention: partitions older than 12 months, detached by the maintenance worker ---'
SELECT object AS detached, to_char(started, 'HH24:MI:SS') AS at, message
  FROM sdp.maintenance_log WHERE action IN ('detach partition', 'drop partition') ORDER BY id;
\echo '--- and what a run now would do (dry run) ---'
SELECT action, count(*) AS partitions, sum(row_estimate) AS rows,
       min(range_from) AS oldest_from, max(range_to) AS newest_to
  FROM sdp.prune_partitions('orders', dry_run => true) GROUP BY action ORDER BY action DESC;

\echo
\echo '=== Materialized views (refreshed by the maintenance worker) ========'
SELECT matview, refresh_every AS every, concurrent_mode AS mode, concurrent_possible AS conc_ok,
       to_char(last_refresh, 'HH24:MI:SS') AS last_refresh, staleness, size, rows, last_status
  FROM sdp.matviews;
\echo '--- refresh history during the workload ---'
SELECT matview, mode, status, count(*) AS refreshes, round(avg(duration_ms)::numeric, 1) AS avg_ms,
       max(rows_after) AS rows
  FROM sdp.matview_refresh_history GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
\echo '--- maintenance worker runs (the last message of each step) ---'
SELECT DISTINCT ON (action) action AS step, count(*) OVER (PARTITION BY action) AS runs,
       count(*) FILTER (WHERE status <> 'ok') OVER (PARTITION BY action) AS not_ok, message AS last_message
  FROM sdp.maintenance_log WHERE object LIKE 'database %'
 ORDER BY action, id DESC;

\echo
\echo '=== Database health ================================================'
SELECT table_name, row_estimate AS rows, total_size FROM sdp.table_sizes WHERE schema_name = 'public' LIMIT 6;
SELECT scope, name, hit_ratio FROM sdp.cache_hit_ratio WHERE scope = 'database';
SELECT application_name AS app, state, connections FROM sdp.connections WHERE database = current_database();
SELECT table_name, live_rows, dead_rows, dead_pct, vacuum_age, vacuum_due
  FROM sdp.vacuum_health WHERE schema_name = 'public' LIMIT 5;

\echo
\echo '=== Indexes: advice and health ====================================='
\echo '--- predicates sampled from executed plans (1 statement in 100, functions included) ---'
SELECT table_name, kind, predicate, samples, est_executions, removed_fraction, est_total_ms
  FROM sdp.observed_predicates WHERE schema_name = 'public'
 ORDER BY est_total_ms DESC LIMIT 10;
\echo '--- missing indexes: what-if planning of the profiled workload and those predicates (sdp.recommend_indexes) ---'
SELECT "table", columns, improvement_pct AS "gain_%", calls, total_exec_ms AS query_ms,
       pg_size_pretty(est_size_bytes) AS est_size, left(sample_query, 60) AS sample, ddl
  FROM sdp.recommend_indexes();
\echo '--- foreign keys without an index (each parent DELETE scans the child) ---'
SELECT table_name, constraint_name, columns, referenced_table, table_rows, create_ddl
  FROM sdp.foreign_keys_without_index WHERE schema_name = 'public';
\echo '--- duplicate and redundant indexes ---'
SELECT 'duplicate' AS kind, table_name, index_name, duplicate_of AS kept, size FROM sdp.duplicate_indexes
UNION ALL
SELECT 'redundant', table_name, index_name, covered_by, size FROM sdp.redundant_indexes;
\echo '--- unused indexes (statistics since the cluster started) ---'
SELECT table_name, index_name, size, table_writes_per_day AS writes_per_day, warning IS NOT NULL AS too_young
  FROM sdp.unused_indexes WHERE schema_name = 'public';

\echo
\echo '=== Slow queries (newest per shape, with plans) ===================='
SELECT DISTINCT ON (queryid)
       to_char(executed_at, 'HH24:MI:SS') AS at,
       round(duration_ms::numeric, 1) AS ms,
       application_name AS app,
       left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS query
  FROM sdp.slow_queries
 ORDER BY queryid, executed_at DESC;

\echo
\echo '--- plans of the three slowest shapes (actual rows where sampled) ---'
\pset format unaligned
\pset tuples_only on
SELECT format(E'\n# %s ms  %s\n%s', round(duration_ms::numeric, 1),
              left(regexp_replace(query, '\s+', ' ', 'g'), 100), plan)
  FROM (SELECT DISTINCT ON (queryid) * FROM sdp.slow_queries
         ORDER BY queryid, plan_analyzed DESC, duration_ms DESC) s
 ORDER BY duration_ms DESC
 LIMIT 3;
\pset tuples_only off
\pset format aligned

\echo
\echo '--- plan advice on the slowest shapes captured with actual rows (sdp.slow_query_advice) ---'
SELECT round(a.duration_ms::numeric, 1) AS ms,
       left(regexp_replace(a.query, '\s+', ' ', 'g'), 50) AS query,
       a.node_type || coalesce(' on ' || a.relation, '') AS node,
       a.finding, a.severity, left(a.suggestion, 110) AS suggestion
  FROM (SELECT DISTINCT ON (queryid) queryid, executed_at FROM sdp.slow_query_advice
         ORDER BY queryid, duration_ms DESC) slowest
  JOIN sdp.slow_query_advice a USING (queryid, executed_at)
 WHERE a.finding <> 'time'
 ORDER BY a.duration_ms DESC, a.node_id
 LIMIT 12;
