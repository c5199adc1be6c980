/* advisor.sql: the index advisor (index_advisor.c, hypothetical_index.c):
 * missing, partial and covering indexes for the profiled workload and the
 * observed predicates, proven by what-if planning with hypothetical
 * indexes, with the DDL to create them (sdp.recommend_indexes). */

-- How much of the workload the advisor planned (advisor_coverage.c): per
-- profiled statement of this database, planned (from its normalized text
-- or its sample) or the reason it was not, with its share of the time.
CREATE FUNCTION sdp._advisor_coverage(search_path text)
RETURNS TABLE (queryid bigint, userid oid, planned boolean, reason text, error text,
               calls bigint, total_exec_ms double precision, time_pct double precision,
               query text)
AS 'MODULE_PATHNAME', 'sdp_advisor_coverage'
LANGUAGE C VOLATILE STRICT;

-- The same summed up per outcome, for the last sdp.recommend_indexes() run
-- of this session (no rows before one).
CREATE FUNCTION sdp._advisor_last_coverage()
RETURNS TABLE (planned boolean, reason text, statements bigint,
               total_exec_ms double precision, time_pct double precision)
AS 'MODULE_PATHNAME', 'sdp_advisor_last_coverage'
LANGUAGE C VOLATILE STRICT;

-- One sentence: what share of the workload the last run planned, and why not the rest.
CREATE FUNCTION sdp._advisor_coverage_summary()
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN count(*) = 0 THEN 'index advisor: no profiled statement in this database'
       ELSE format('index advisor planned %s of %s profiled statements (%s %% of their time)%s',
                   coalesce(sum(c.statements) FILTER (WHERE c.planned), 0), sum(c.statements),
                   round(coalesce(sum(c.time_pct) FILTER (WHERE c.planned), 0)::numeric, 1),
                   coalesce('; not planned: ' || string_agg(format('%s %s (%s %%)', c.statements, c.reason,
                                                                   round(c.time_pct::numeric, 1)), ', ')
                                                 FILTER (WHERE NOT c.planned), ''))
       END
  FROM sdp._advisor_last_coverage() c
$$;

-- Per profiled statement, whether the advisor can plan it and why not.
CREATE FUNCTION sdp.advisor_coverage(search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (queryid bigint, userid oid, planned boolean, reason text, error text,
               calls bigint, total_exec_ms numeric, time_pct numeric, query text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.queryid, c.userid, c.planned, c.reason, c.error, c.calls,
       round(c.total_exec_ms::numeric, 1), round(c.time_pct::numeric, 1), c.query
  FROM sdp._advisor_coverage(search_path) c
 ORDER BY c.total_exec_ms DESC, c.queryid
$$;

-- The advice itself (C): candidates chosen greedily by what-if planning.
-- Statements are planned as the role that ran them, under the search_path
-- each was first run with (sdp.query_samples) or, when none was recorded,
-- the caller's, passed on explicitly since the SQL functions around it run
-- under pg_catalog, pg_temp.
CREATE FUNCTION sdp._index_advice(min_improvement_pct double precision, search_path text)
RETURNS TABLE (relid oid, columns text, est_cost_before double precision,
               est_cost_after double precision, improvement_pct double precision,
               queryids bigint[], sample_query text, calls bigint,
               total_exec_ms double precision, est_size_bytes bigint,
               est_saved_ms double precision, definition text)
AS 'MODULE_PATHNAME', 'sdp_index_advice'
LANGUAGE C VOLATILE STRICT;

-- A name that stays the same from one run to the next:
-- <table>_<columns>_idx, shortened with a hash past 63 bytes.
CREATE FUNCTION sdp._index_name(tab text, columns text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN length(n) <= 63 THEN n
            ELSE left(n, 54) || '_' || left(md5(n), 8) END
  FROM (SELECT tab || '_' || btrim(regexp_replace(lower(columns), '[^a-z0-9]+', '_', 'g'), '_')
               || '_idx' AS n) x
$$;

-- The advice with its DDL and what the index costs in writes.
CREATE FUNCTION sdp._recommend_indexes(min_improvement_pct numeric, search_path text)
RETURNS TABLE ("table" regclass, columns text, ddl text,
               est_cost_before numeric, est_cost_after numeric, improvement_pct numeric,
               queryids bigint[], sample_query text, calls bigint, total_exec_ms numeric,
               est_size_bytes bigint, write_overhead text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
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
  FROM sdp._index_advice(min_improvement_pct::double precision, search_path) a
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

-- The one function here without a restricted search_path: it only passes
-- the caller's on, fully qualified.  It says in a NOTICE how much of the
-- workload the advice covers.
CREATE FUNCTION sdp.recommend_indexes(min_improvement_pct numeric DEFAULT 10)
RETURNS TABLE ("table" regclass, columns text, ddl text,
               est_cost_before numeric, est_cost_after numeric, improvement_pct numeric,
               queryids bigint[], sample_query text, calls bigint, total_exec_ms numeric,
               est_size_bytes bigint, write_overhead text)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN QUERY SELECT * FROM sdp._recommend_indexes(min_improvement_pct,
                                                      pg_catalog.current_setting('search_path'));
    RAISE NOTICE '%', sdp._advisor_coverage_summary()
        USING HINT = 'sdp.advisor_coverage() lists every statement with the reason it was not planned.';
END
$$;

-- It reads every user's statements: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp._index_advice(double precision, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._recommend_indexes(numeric, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.recommend_indexes(numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._advisor_coverage(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.advisor_coverage(text) FROM PUBLIC;
