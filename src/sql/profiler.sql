/* profiler.sql: the query profiler's SQL interface (profiler_sql.c,
 * slow_queries.c): per-query statistics per application and added up
 * (sdp.query_stats, sdp.query_totals), slow executions with their plans
 * (sdp.slow_queries), the profiler's state (sdp.profiler_info) and
 * sdp.reset(); the schema's USAGE grant. */

-- All objects live in schema sdp (see the control file).  Functions are
-- SECURITY INVOKER; the C functions check privileges themselves.
GRANT USAGE ON SCHEMA sdp TO PUBLIC;

CREATE FUNCTION sdp.query_stats(
    showtext boolean DEFAULT true,
    by_application boolean DEFAULT true,
    OUT userid oid,
    OUT dbid oid,
    OUT toplevel boolean,
    OUT queryid bigint,
    OUT query text,
    OUT application_name text,
    OUT calls bigint,
    OUT total_exec_time double precision,
    OUT min_exec_time double precision,
    OUT max_exec_time double precision,
    OUT mean_exec_time double precision,
    OUT stddev_exec_time double precision,
    OUT p50_exec_time double precision,
    OUT p95_exec_time double precision,
    OUT p99_exec_time double precision,
    OUT rows bigint,
    OUT shared_blks_hit bigint,
    OUT shared_blks_read bigint,
    OUT shared_blks_dirtied bigint,
    OUT shared_blks_written bigint,
    OUT local_blks_hit bigint,
    OUT local_blks_read bigint,
    OUT local_blks_dirtied bigint,
    OUT local_blks_written bigint,
    OUT temp_blks_read bigint,
    OUT temp_blks_written bigint,
    OUT blk_read_time double precision,
    OUT blk_write_time double precision,
    OUT wal_records bigint,
    OUT wal_fpi bigint,
    OUT wal_bytes numeric,
    OUT first_seen timestamptz,
    OUT last_seen timestamptz,
    OUT plans bigint,
    OUT total_plan_time double precision,
    OUT min_plan_time double precision,
    OUT max_plan_time double precision,
    OUT mean_plan_time double precision,
    OUT stddev_plan_time double precision,
    OUT temp_blk_read_time double precision,
    OUT temp_blk_write_time double precision,
    OUT jit_functions bigint,
    OUT jit_generation_time double precision,
    OUT jit_inlining_count bigint,
    OUT jit_inlining_time double precision,
    OUT jit_optimization_count bigint,
    OUT jit_optimization_time double precision,
    OUT jit_emission_count bigint,
    OUT jit_emission_time double precision
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_query_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION sdp.query_stats(boolean, boolean) IS
'per-query statistics; by_application => false adds up the applications';

-- One row per statement shape, user, database, top-level flag and
-- application.  Times in milliseconds, named as in pg_stat_statements.
CREATE VIEW sdp.query_stats AS
    SELECT * FROM sdp.query_stats(true, true);

COMMENT ON VIEW sdp.query_stats IS
'per-query statistics per application_name, with latency percentiles';

-- The same, with the applications added up: one row per statement shape,
-- user, database and top-level flag, as pg_stat_statements counts them.
CREATE VIEW sdp.query_totals AS
    SELECT userid, dbid, toplevel, queryid, query, calls,
           total_exec_time, min_exec_time, max_exec_time, mean_exec_time,
           stddev_exec_time, p50_exec_time, p95_exec_time, p99_exec_time,
           rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied,
           shared_blks_written, local_blks_hit, local_blks_read,
           local_blks_dirtied, local_blks_written, temp_blks_read,
           temp_blks_written, blk_read_time, blk_write_time, wal_records,
           wal_fpi, wal_bytes, first_seen, last_seen,
           plans, total_plan_time, min_plan_time, max_plan_time,
           mean_plan_time, stddev_plan_time, temp_blk_read_time,
           temp_blk_write_time, jit_functions, jit_generation_time,
           jit_inlining_count, jit_inlining_time, jit_optimization_count,
           jit_optimization_time, jit_emission_count, jit_emission_time
      FROM sdp.query_stats(true, false);

COMMENT ON VIEW sdp.query_totals IS
'per-query statistics over all applications, with latency percentiles';

-- pg_stat_statements 1.10's view, column for column (names, types, order
-- and meanings), over the totals: a tool written for it reads this one.
CREATE VIEW sdp.pg_stat_statements AS
    SELECT userid, dbid, toplevel, queryid, query,
           plans, total_plan_time, min_plan_time, max_plan_time,
           mean_plan_time, stddev_plan_time,
           calls, total_exec_time, min_exec_time, max_exec_time,
           mean_exec_time, stddev_exec_time, rows,
           shared_blks_hit, shared_blks_read, shared_blks_dirtied,
           shared_blks_written, local_blks_hit, local_blks_read,
           local_blks_dirtied, local_blks_written, temp_blks_read,
           temp_blks_written, blk_read_time, blk_write_time,
           temp_blk_read_time, temp_blk_write_time,
           wal_records, wal_fpi, wal_bytes,
           jit_functions, jit_generation_time, jit_inlining_count,
           jit_inlining_time, jit_optimization_count, jit_optimization_time,
           jit_emission_count, jit_emission_time
      FROM sdp.query_stats(true, false);

COMMENT ON VIEW sdp.pg_stat_statements IS
'the statistics as pg_stat_statements 1.10 shows them, applications added up';

CREATE FUNCTION sdp.slow_queries(
    showtext boolean DEFAULT true,
    OUT executed_at timestamptz,
    OUT duration_ms double precision,
    OUT userid oid,
    OUT dbid oid,
    OUT application_name text,
    OUT toplevel boolean,
    OUT queryid bigint,
    OUT rows bigint,
    OUT query text,
    OUT plan text,
    OUT plan_analyzed boolean,
    OUT seq bigint
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_slow_queries'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Executions slower than smart_dairy_perf.slow_query_ms, newest first.
CREATE VIEW sdp.slow_queries AS
    SELECT s.executed_at, s.duration_ms,
           r.rolname AS username, d.datname AS database,
           s.application_name, s.toplevel, s.queryid, s.rows,
           s.query, s.plan, s.plan_analyzed, s.userid, s.dbid
      FROM sdp.slow_queries(true) s
      LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
      LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
     ORDER BY s.seq DESC;

COMMENT ON VIEW sdp.slow_queries IS
'slow executions with their plans, newest first';

CREATE FUNCTION sdp.profiler_info(
    OUT entries bigint,
    OUT max_queries integer,
    OUT evictions bigint,
    OUT stats_reset timestamptz,
    OUT shared_memory_bytes bigint,
    OUT slow_queries_captured bigint,
    OUT max_slow_queries integer,
    OUT percentile_max_error double precision
)
AS 'MODULE_PATHNAME', 'sdp_profiler_info'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW sdp.profiler_info AS
    SELECT * FROM sdp.profiler_info();

COMMENT ON VIEW sdp.profiler_info IS
'state of the query profiler: entries, evictions, reset time, memory';

CREATE FUNCTION sdp.reset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'sdp_reset_all'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION sdp.reset() IS
'forget all query statistics, slow queries and N+1 patterns; returns the entries removed';

CREATE FUNCTION sdp.reset(queryid bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'sdp_reset_query'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION sdp.reset(bigint) IS
'forget one query shape for every user and database; returns the entries removed';

-- Resetting destroys other users' data: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp.reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.reset(bigint) FROM PUBLIC;

GRANT SELECT ON sdp.query_stats, sdp.query_totals, sdp.slow_queries,
    sdp.profiler_info, sdp.pg_stat_statements TO PUBLIC;
