/* smart_dairy_perf--1.1--1.2.sql: predicates observed in executed plans */

-- complain if script is sourced in psql, rather than through ALTER EXTENSION
\echo Use "ALTER EXTENSION smart_dairy_perf UPDATE TO '1.2'" to load this file. \quit

CREATE FUNCTION sdp._observed_predicates(
    OUT relid oid, OUT kind text, OUT predicate text, OUT samples bigint,
    OUT est_executions double precision, OUT rows_kept double precision,
    OUT rows_removed double precision, OUT est_total_ms double precision,
    OUT queryid bigint, OUT last_seen timestamptz, OUT what_if_query text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_observed_predicates_sql'
LANGUAGE C VOLATILE STRICT;

-- What sampled executions of this database's statements tested, one row per
-- table (partitions folded into their partitioned table), kind and set of
-- column tests: a filter that removed rows, the join key of a full scan, or
-- ORDER BY ... LIMIT sorted after a scan.  The index advisor plans
-- what_if_query for the ones the profiled statements do not account for.
CREATE VIEW sdp.observed_predicates AS
SELECT n.nspname AS schema_name, c.relname AS table_name, p.relid, p.kind, p.predicate,
       p.samples, round(p.est_executions) AS est_executions,
       p.rows_kept, p.rows_removed,
       round((p.rows_removed / nullif(p.rows_kept + p.rows_removed, 0))::numeric, 4) AS removed_fraction,
       round(p.est_total_ms::numeric, 3) AS est_total_ms,
       p.queryid, p.last_seen, p.what_if_query
  FROM sdp._observed_predicates() p
  JOIN pg_catalog.pg_class c ON c.oid = p.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;

-- which tables and columns other roles' statements test is for monitoring roles
REVOKE ALL ON FUNCTION sdp._observed_predicates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp._observed_predicates() TO pg_read_all_stats;
REVOKE ALL ON sdp.observed_predicates FROM PUBLIC;
GRANT SELECT ON sdp.observed_predicates TO pg_read_all_stats;

-- Index advice: covering (INCLUDE) and partial candidates; the C function
-- returns the index definition so the DDL carries them.
DROP FUNCTION sdp.recommend_indexes(numeric);
DROP FUNCTION sdp._index_advice(double precision);

CREATE FUNCTION sdp._index_advice(min_improvement_pct double precision)
RETURNS TABLE (relid oid, columns text, est_cost_before double precision,
               est_cost_after double precision, improvement_pct double precision,
               queryids bigint[], sample_query text, calls bigint,
               total_exec_ms double precision, est_size_bytes bigint,
               est_saved_ms double precision, definition text)
AS 'MODULE_PATHNAME', 'sdp_index_advice'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION sdp.recommend_indexes(min_improvement_pct numeric DEFAULT 10)
RETURNS TABLE ("table" regclass, columns text, ddl text,
               est_cost_before numeric, est_cost_after numeric, improvement_pct numeric,
               queryids bigint[], sample_query text, calls bigint, total_exec_ms numeric,
               est_size_bytes bigint, write_overhead text)
LANGUAGE sql VOLATILE
AS $$
SELECT a.relid::regclass, a.columns,
       -- PostgreSQL cannot build a partitioned index concurrently
       format(CASE WHEN c.relkind = 'p' THEN 'CREATE INDEX %I ON %I.%I %s;'
                   ELSE 'CREATE INDEX CONCURRENTLY %I ON %I.%I %s;' END,
              sdp._index_name(c.relname, a.columns), n.nspname, c.relname, a.definition),
       round(a.est_cost_before::numeric, 1), round(a.est_cost_after::numeric, 1),
       round(a.improvement_pct::numeric, 1), a.queryids, a.sample_query, a.calls,
       round(a.total_exec_ms::numeric, 1), a.est_size_bytes,
       format('%s writes/day on the table, each also updating this index', w.per_day)
  FROM sdp._index_advice(min_improvement_pct::double precision) a
  JOIN pg_catalog.pg_class c ON c.oid = a.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (
      SELECT round(coalesce(sum(pg_catalog.pg_stat_get_tuples_inserted(l)
                                + pg_catalog.pg_stat_get_tuples_updated(l)
                                + pg_catalog.pg_stat_get_tuples_deleted(l)), 0)
                   / greatest(extract(epoch FROM sdp._stats_age()) / 86400, 1 / 24.0)) AS per_day
        FROM sdp._leaves(a.relid) l) w
 ORDER BY a.est_saved_ms DESC
$$;

-- It reads every user's statements: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp._index_advice(double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.recommend_indexes(numeric) FROM PUBLIC;
