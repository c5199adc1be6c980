/* predicates.sql: predicates observed in sampled executed plans
 * (predicate_sampler.c, predicate_store.c): sdp.observed_predicates, for
 * monitoring roles; the index advisor reads them too. */

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
