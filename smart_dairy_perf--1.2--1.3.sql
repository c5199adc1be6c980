/* smart_dairy_perf 1.2 -> 1.3: maintenance acts with each owner's rights
 * (see README, "Security model"); configuration rows are checked against
 * the object's owner; logs show each role its own objects; materialized
 * views whose query depends on the time are always due; partition bounds
 * are read back whatever the session's DateStyle and TimeZone. */

\echo Use "ALTER EXTENSION smart_dairy_perf UPDATE TO '1.3'" to load this file. \quit

------------------------------------------------------------------------
-- Configuration is written by owners, and says who wrote it
------------------------------------------------------------------------

-- Rows written before 1.3 are taken as their object owner's.
ALTER TABLE sdp.partition_config ADD COLUMN configured_by regrole;
UPDATE sdp.partition_config p SET configured_by = c.relowner::regrole
  FROM pg_catalog.pg_class c WHERE c.oid = p.parent;
ALTER TABLE sdp.matview_config ADD COLUMN configured_by regrole;
UPDATE sdp.matview_config m SET configured_by = c.relowner::regrole
  FROM pg_catalog.pg_class c WHERE c.oid = m.matview;

COMMENT ON COLUMN sdp.partition_config.configured_by IS
'role that last changed the configuration (set by a trigger); maintenance acts only while it has the table owner''s privileges';
COMMENT ON COLUMN sdp.matview_config.configured_by IS
'role that last changed the configuration (set by a trigger); maintenance acts only while it has the view owner''s privileges';

-- Every write of a configuration row must come from a role with the
-- privileges of the object's owner (a row about a dropped object can be
-- deleted by anyone allowed to delete); configured_by records the writer.
-- State the refresh manager keeps (last_refresh, base_signature) does not
-- change it.
CREATE FUNCTION sdp._check_config_writer(obj regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner oid := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = obj);
BEGIN
    IF owner IS NULL THEN
        RAISE EXCEPTION 'relation with OID % does not exist', obj::oid
            USING ERRCODE = 'undefined_table';
    ELSIF NOT pg_catalog.pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of relation %', obj
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Maintenance of %s acts with the rights of its owner "%s".',
                                  obj, pg_catalog.pg_get_userbyid(owner)),
                  HINT = 'Only the owner, or a role with the owner''s privileges, can configure it.';
    END IF;
END
$$;

CREATE FUNCTION sdp._partition_config_writer()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = OLD.parent) THEN
            PERFORM sdp._check_config_writer(OLD.parent);
        END IF;
        RETURN OLD;
    END IF;
    PERFORM sdp._check_config_writer(NEW.parent);
    NEW.configured_by := current_user::regrole;
    RETURN NEW;
END
$$;

CREATE FUNCTION sdp._matview_config_writer()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = OLD.matview) THEN
            PERFORM sdp._check_config_writer(OLD.matview);
        END IF;
        RETURN OLD;
    END IF;
    PERFORM sdp._check_config_writer(NEW.matview);
    -- the refresh state the manager keeps does not change who configured it
    IF TG_OP = 'INSERT' OR (NEW.matview, NEW.refresh_every, NEW.concurrent_mode)
                            IS DISTINCT FROM (OLD.matview, OLD.refresh_every, OLD.concurrent_mode) THEN
        NEW.configured_by := current_user::regrole;
    ELSE
        NEW.configured_by := OLD.configured_by;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER check_config_writer BEFORE INSERT OR UPDATE OR DELETE ON sdp.partition_config
    FOR EACH ROW EXECUTE FUNCTION sdp._partition_config_writer();
CREATE TRIGGER check_config_writer BEFORE INSERT OR UPDATE OR DELETE ON sdp.matview_config
    FOR EACH ROW EXECUTE FUNCTION sdp._matview_config_writer();

------------------------------------------------------------------------
-- Logs: each role reads the rows about the objects it owns; the rest
-- (and rows about the database as a whole) need pg_read_all_stats
------------------------------------------------------------------------

ALTER TABLE sdp.maintenance_log ADD COLUMN object_owner oid;
UPDATE sdp.maintenance_log l SET object_owner = c.relowner
  FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(l.object)
   AND l.object !~ '^(database|materialized view with OID) ';
COMMENT ON COLUMN sdp.maintenance_log.object_owner IS
'owner of the table or view the row is about (NULL: the database); that role may read the row';

-- (the same rule for writing and deleting: a role granted INSERT cannot
-- forge a row about another owner's object, nor delete one)
ALTER TABLE sdp.maintenance_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_objects ON sdp.maintenance_log
    USING (pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
           OR (object_owner IS NOT NULL AND pg_catalog.pg_has_role(object_owner, 'USAGE')));

ALTER TABLE sdp.matview_refresh_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_objects ON sdp.matview_refresh_history
    USING (pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
           OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                       WHERE c.oid = matview_oid AND pg_catalog.pg_has_role(c.relowner, 'USAGE')));

-- The views over them read with the reader's rights, so the policies hold
-- through them too.
ALTER VIEW sdp.matviews SET (security_invoker = true);

------------------------------------------------------------------------
-- Materialized views: a query that calls now(), current_date, random()
-- or any other function that is not immutable changes with time alone
------------------------------------------------------------------------

CREATE FUNCTION sdp._time_dependent(rel regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sdp_time_dependent'
LANGUAGE C STABLE STRICT;

-- As in 1.1, plus: NULL (always due) for a time-dependent query.
CREATE OR REPLACE FUNCTION sdp._matview_signature(mv regclass)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET jit = off
AS $$
DECLARE
    sig text;
BEGIN
    IF NOT current_setting('track_counts')::boolean THEN
        RETURN NULL;
    END IF;
    IF sdp._time_dependent(mv) THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                  AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_proc'::regclass
                WHERE r.ev_class IN (SELECT mv UNION SELECT s.source FROM sdp._matview_sources(mv) s)
                  AND d.refobjid >= 16384) THEN
        RETURN NULL;
    END IF;
    -- counters read within this transaction are cached; read them afresh
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    WITH RECURSIVE rel(oid) AS (
        SELECT s.source::oid FROM sdp._matview_sources(mv) s
        UNION
        SELECT i.inhrelid FROM rel JOIN pg_catalog.pg_inherits i ON i.inhparent = rel.oid
    )
    SELECT CASE WHEN bool_or(c.relkind = 'f') THEN NULL
           ELSE coalesce(string_agg(format('%s:%s:%s', c.oid, c.relfilenode,
                    pg_catalog.pg_stat_get_tuples_inserted(c.oid)
                    + pg_catalog.pg_stat_get_tuples_updated(c.oid)
                    + pg_catalog.pg_stat_get_tuples_deleted(c.oid)
                    + pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid)
                    + pg_catalog.pg_stat_get_xact_tuples_updated(c.oid)
                    + pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid)), ','
                    ORDER BY c.oid), '') END
      INTO sig
      FROM rel JOIN pg_catalog.pg_class c ON c.oid = rel.oid;
    RETURN sig;
END
$$;

------------------------------------------------------------------------
-- Partition bounds are printed by pg_get_expr() in the session's
-- DateStyle and TimeZone; read them in fixed ones (a bound printed as
-- "01/02/2026 00:00:00 CST" would be read back in the wrong zone)
------------------------------------------------------------------------

ALTER FUNCTION sdp._range_partitions(text, regclass)
    SET DateStyle = 'ISO, YMD' SET TimeZone = 'UTC' SET IntervalStyle = 'postgres';

-- A period's start for messages: ISO, " BC" when it is, or infinity.
CREATE FUNCTION sdp._period_text(local timestamp)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
SELECT CASE WHEN NOT pg_catalog.isfinite(local) THEN local::pg_catalog.text
            WHEN local < '0001-01-01' THEN pg_catalog.to_char(local, 'YYYY-MM-DD HH24:MI:SS') || ' BC'
            ELSE pg_catalog.to_char(local, 'YYYY-MM-DD HH24:MI:SS') END
$$;

------------------------------------------------------------------------
-- Index advice: statements are planned as the role that ran them, under
-- the caller's search_path (passed on explicitly, since the functions
-- themselves run under pg_catalog, pg_temp)
------------------------------------------------------------------------

DROP FUNCTION sdp.recommend_indexes(numeric);
DROP FUNCTION sdp._index_advice(double precision);

CREATE FUNCTION sdp._index_advice(min_improvement_pct double precision, search_path text)
RETURNS TABLE (relid oid, columns text, est_cost_before double precision,
               est_cost_after double precision, improvement_pct double precision,
               queryids bigint[], sample_query text, calls bigint,
               total_exec_ms double precision, est_size_bytes bigint,
               est_saved_ms double precision, definition text)
AS 'MODULE_PATHNAME', 'sdp_index_advice'
LANGUAGE C VOLATILE STRICT;

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
-- the caller's on, fully qualified.
CREATE FUNCTION sdp.recommend_indexes(min_improvement_pct numeric DEFAULT 10)
RETURNS TABLE ("table" regclass, columns text, ddl text,
               est_cost_before numeric, est_cost_after numeric, improvement_pct numeric,
               queryids bigint[], sample_query text, calls bigint, total_exec_ms numeric,
               est_size_bytes bigint, write_overhead text)
LANGUAGE sql VOLATILE
AS $$
SELECT * FROM sdp._recommend_indexes(min_improvement_pct,
                                     pg_catalog.current_setting('search_path'))
$$;

-- It reads every user's statements: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp._index_advice(double precision, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._recommend_indexes(numeric, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.recommend_indexes(numeric) FROM PUBLIC;

------------------------------------------------------------------------
-- Every SQL and PL/pgSQL function of the extension runs with
-- search_path = pg_catalog, pg_temp: a function or operator planted in a
-- schema on the caller's search_path (public.format(...), public.*) is
-- never called by the extension's own code
------------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_language l ON l.oid = p.prolang
              WHERE p.pronamespace = 'sdp'::regnamespace
                AND l.lanname IN ('sql', 'plpgsql')
                AND p.oid <> 'sdp.recommend_indexes(numeric)'::regprocedure
                AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;

------------------------------------------------------------------------
-- Plan advice: EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) read for the
-- developer.  sdp.explain_advice(query) explains a statement (its
-- writes rolled back) and returns findings; sdp._plan_findings(plan)
-- reads any JSON plan; sdp._plan_nodes(plan) flattens one.
------------------------------------------------------------------------

-- Every node of a JSON plan, numbered in the order EXPLAIN prints them,
-- with the figures the findings read.  Times are per plan (a node's
-- per-loop time multiplied by its loops); exclusive_ms is the node's own
-- time, without its children's.
CREATE FUNCTION sdp._plan_nodes(plan jsonb)
RETURNS TABLE (node_id integer, parent_id integer, depth integer, node jsonb,
               node_type text, relation text, alias text, index_name text,
               parent_relationship text, plan_rows double precision,
               actual_rows double precision, loops double precision,
               total_ms double precision, exclusive_ms double precision)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH RECURSIVE walk(path, parent_path, depth, node) AS (
    SELECT ARRAY[1], NULL::integer[], 0, plan -> 0 -> 'Plan'
    UNION ALL
    SELECT w.path || c.ord::integer, w.path, w.depth + 1, c.child
      FROM walk w
     CROSS JOIN LATERAL jsonb_array_elements(coalesce(w.node -> 'Plans', '[]'))
           WITH ORDINALITY AS c(child, ord)
),
numbered AS (
    SELECT row_number() OVER (ORDER BY path)::integer AS node_id, path, parent_path, depth, node,
           coalesce((node ->> 'Actual Total Time')::float8, 0)
           * greatest(coalesce((node ->> 'Actual Loops')::float8, 1), 1) AS total_ms
      FROM walk
)
SELECT n.node_id, p.node_id, n.depth, n.node,
       n.node ->> 'Node Type',
       CASE WHEN n.node ? 'Relation Name'
            THEN coalesce(quote_ident(n.node ->> 'Schema') || '.', '') || quote_ident(n.node ->> 'Relation Name') END,
       n.node ->> 'Alias',
       n.node ->> 'Index Name',
       n.node ->> 'Parent Relationship',
       (n.node ->> 'Plan Rows')::float8,
       (n.node ->> 'Actual Rows')::float8,
       (n.node ->> 'Actual Loops')::float8,
       n.total_ms,
       greatest(n.total_ms - coalesce((SELECT sum(c.total_ms) FROM numbered c
                                        WHERE c.parent_path = n.path
                                          AND coalesce(c.node ->> 'Parent Relationship', '') <> 'InitPlan'), 0), 0)
  FROM numbered n
  LEFT JOIN numbered p ON p.path = n.parent_path
 ORDER BY n.node_id
$$;

-- Plain columns of one relation compared in a node's conditions, in the
-- order they first appear (VERBOSE plans qualify them with the alias):
-- "(o.status = 'x') AND (o.region = 'y')" gives {status, region}.  A
-- column inside a function call (lower(u.email)) is not one: NULL then,
-- since an index on the column would not serve the condition.
CREATE FUNCTION sdp._plan_condition_columns(node jsonb)
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH conds AS (
    SELECT string_agg(c.cond, ' AND ' ORDER BY c.o) AS cond
      FROM unnest(ARRAY[node ->> 'Filter', node ->> 'Index Cond', node ->> 'Recheck Cond'])
           WITH ORDINALITY AS c(cond, o)
     WHERE c.cond IS NOT NULL AND node ? 'Alias'),
alias AS (SELECT regexp_replace(node ->> 'Alias', '([^a-zA-Z0-9_])', '\\\1', 'g') AS re),
found AS (
    SELECT m.hit[1] AS col, m.o
      FROM conds, alias
     CROSS JOIN LATERAL regexp_matches(conds.cond,
            '(?:^|[^a-z0-9_."(]|(?<![a-z0-9_])\()' || alias.re
            || '\.([a-z_][a-z0-9_$]*)\s*(?:=|<|>|<=|>=|<>|~~|IS|\))', 'g') WITH ORDINALITY AS m(hit, o))
SELECT CASE WHEN (SELECT conds.cond ~ ('[a-z_]\(' || alias.re || '\.') FROM conds, alias) THEN NULL
            ELSE coalesce((SELECT array_agg(col ORDER BY first) FROM
                             (SELECT col, min(o) AS first FROM found GROUP BY col) x), '{}') END
$$;

-- The findings of a JSON plan (EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON),
-- VERBOSE for schema names): one row per finding, the node that costs
-- most first.  executions: how often the statement runs (planning time
-- only matters for a statement run repeatedly); NULL: unknown.
CREATE FUNCTION sdp._plan_findings(plan jsonb, executions bigint DEFAULT NULL)
RETURNS TABLE (node_id integer, node_type text, relation text, index_name text,
               finding text, severity text, figures jsonb, suggestion text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH nodes AS (SELECT * FROM sdp._plan_nodes(plan)),
top AS (SELECT (plan -> 0 ->> 'Planning Time')::float8 AS planning_ms,
               (plan -> 0 ->> 'Execution Time')::float8 AS execution_ms,
               (plan -> 0 -> 'JIT' -> 'Timing' ->> 'Total')::float8 AS jit_ms,
               (plan -> 0 -> 'Plan' ? 'Actual Rows') AS analyzed),
total AS (SELECT greatest(coalesce(t.execution_ms, (SELECT max(total_ms) FROM nodes)), 0.001) AS ms FROM top t),
found AS (
    -- where the time went: the nodes that take a tenth of the time or more
    SELECT n.node_id, 'time' AS finding, 'info' AS severity,
           jsonb_build_object('exclusive_ms', round(n.exclusive_ms::numeric, 3),
                              'share_pct', round((100 * n.exclusive_ms / t.ms)::numeric, 1)) AS figures,
           format('%s%% of the execution time is spent in this node itself.',
                  round((100 * n.exclusive_ms / t.ms)::numeric, 1)) AS suggestion
      FROM nodes n, total t, top
     WHERE top.analyzed AND n.exclusive_ms >= 0.1 * t.ms
    UNION ALL
    -- row estimates off by 10x or more
    SELECT n.node_id, 'row estimate off by ' || round(greatest(n.actual_rows / greatest(n.plan_rows, 1),
                                                             n.plan_rows / greatest(n.actual_rows, 1))::numeric)::text || 'x',
           CASE WHEN greatest(n.actual_rows, n.plan_rows) >= 10000 THEN 'high' ELSE 'medium' END,
           jsonb_build_object('plan_rows', n.plan_rows, 'actual_rows', n.actual_rows, 'loops', n.loops,
                              'last_analyze', s.analyzed_at, 'columns', to_jsonb(cols.c)),
           CASE WHEN n.relation IS NULL
                THEN 'The planner expected ' || n.plan_rows || ' rows and got ' || n.actual_rows
                     || ': the plan above this node was chosen for the wrong size.'
                WHEN cols.c IS NULL
                THEN format('The condition is on an expression, which has no statistics of its own: an index on it (sdp.recommend_indexes() proposes one) or CREATE STATISTICS ON (<expression>) FROM %s; ANALYZE %s; gives the planner some.',
                            n.relation, n.relation)
                WHEN cardinality(cols.c) >= 2
                THEN format('The conditions on %s are estimated as if independent; tell the planner how the columns go together: CREATE STATISTICS ON %s FROM %s; ANALYZE %s;',
                            array_to_string(cols.c, ', '), array_to_string(cols.c, ', '), n.relation, n.relation)
                ELSE format('Refresh the statistics: ANALYZE %s;%s', n.relation,
                            CASE WHEN s.analyzed_at IS NULL THEN ' (never analyzed)'
                                 ELSE format(' (last analyzed %s ago)', date_trunc('second', now() - s.analyzed_at)) END)
           END
      FROM nodes n
      LEFT JOIN LATERAL (SELECT sdp._plan_condition_columns(n.node) AS c) cols ON true
      LEFT JOIN LATERAL (SELECT greatest(st.last_analyze, st.last_autoanalyze) AS analyzed_at
                           FROM pg_stat_all_tables st
                          WHERE st.relid = to_regclass(n.relation)) s ON true
     WHERE n.actual_rows IS NOT NULL AND n.loops > 0
       AND greatest(n.actual_rows, n.plan_rows) >= 100
       AND greatest(n.actual_rows / greatest(n.plan_rows, 1), n.plan_rows / greatest(n.actual_rows, 1)) >= 10
    UNION ALL
    -- a scan that throws away 90 % or more of what it reads
    SELECT n.node_id, 'filter removes ' || trim_scale(floor(1000 * r.removed / (r.removed + r.kept))::numeric / 10)
                      || '% of the rows read',
           CASE WHEN r.removed >= 100000 THEN 'high' ELSE 'medium' END,
           jsonb_build_object('rows_removed', r.removed, 'rows_kept', r.kept, 'table_pages', c.relpages,
                              'columns', to_jsonb(sdp._plan_condition_columns(n.node))),
           CASE WHEN cardinality(sdp._plan_condition_columns(n.node)) > 0
                THEN format('An index would read only the rows kept: CREATE INDEX ON %s (%s);',
                            -- a partition's index is made on the partitioned table
                            coalesce(pg_partition_root(c.oid)::text, n.relation),
                            array_to_string(sdp._plan_condition_columns(n.node), ', '))
                ELSE 'Most rows read are discarded by the filter, on an expression: sdp.recommend_indexes() proposes the index (expressions included) and proves it by what-if planning.' END
      FROM nodes n
      JOIN pg_class c ON c.oid = to_regclass(n.relation)
     CROSS JOIN LATERAL (SELECT coalesce((n.node ->> 'Rows Removed by Filter')::float8, 0) * greatest(n.loops, 1) AS removed,
                                coalesce(n.actual_rows, 0) * greatest(n.loops, 1) AS kept) r
     WHERE n.node_type IN ('Seq Scan', 'Bitmap Heap Scan', 'Index Scan', 'Index Only Scan')
       AND r.removed > 0 AND r.removed >= 0.9 * (r.removed + r.kept)
       AND c.relpages >= coalesce((SELECT setting::integer FROM pg_settings
                                    WHERE name = 'smart_dairy_perf.advisor_min_table_pages'), 32)
    UNION ALL
    -- sorts and hashes that went to disk
    SELECT n.node_id, 'sort spilled to disk', 'medium',
           jsonb_build_object('sort_method', n.node ->> 'Sort Method', 'disk_kb', (n.node ->> 'Sort Space Used')::bigint,
                              'work_mem', current_setting('work_mem')),
           format('The sort wrote %s kB to disk; it needs about work_mem = ''%sMB'' to stay in memory (SET work_mem for this query or role).',
                  n.node ->> 'Sort Space Used', ceil((n.node ->> 'Sort Space Used')::float8 * 3 / 1024)::bigint)
      FROM nodes n
     WHERE n.node ->> 'Sort Space Type' = 'Disk'
    UNION ALL
    SELECT n.node_id, 'hash in ' || (n.node ->> 'Hash Batches') || ' batches', 'medium',
           jsonb_build_object('hash_batches', (n.node ->> 'Hash Batches')::integer,
                              'original_batches', (n.node ->> 'Original Hash Batches')::integer,
                              'peak_memory_kb', (n.node ->> 'Peak Memory Usage')::bigint,
                              'work_mem', current_setting('work_mem')),
           format('The hash table did not fit in work_mem and was split into batches written to disk; it needs about work_mem = ''%sMB'' (hash_mem_multiplier also applies).',
                  ceil((n.node ->> 'Peak Memory Usage')::float8 * (n.node ->> 'Hash Batches')::float8 * 1.2 / 1024)::bigint)
      FROM nodes n
     WHERE n.node_type = 'Hash' AND (n.node ->> 'Hash Batches')::integer > 1
    UNION ALL
    -- a nested loop running a non-index inner side 1,000 times or more
    SELECT p.node_id, 'nested loop runs a ' || lower(i.node_type) || ' ' || round(i.loops)::text || ' times', 'high',
           jsonb_build_object('inner_loops', i.loops, 'inner_node_id', i.node_id, 'inner_relation', i.relation,
                              'inner_ms', round(i.total_ms::numeric, 3)),
           format('The inner side (%s%s) is scanned once per outer row; an index on its join key%s, or a hash join, reads it once.',
                  i.node_type, coalesce(' on ' || i.relation, ''),
                  coalesce(' (' || array_to_string(nullif(sdp._plan_condition_columns(i.node), '{}'), ', ') || ')', ''))
      FROM nodes p
      JOIN nodes i ON i.parent_id = p.node_id AND i.parent_relationship = 'Inner'
     WHERE p.node_type = 'Nested Loop' AND i.loops >= 1000
       AND i.node_type NOT IN ('Index Scan', 'Index Only Scan', 'Bitmap Heap Scan', 'Result', 'Memoize')
    UNION ALL
    -- index-only scans that visit the heap anyway
    SELECT n.node_id, 'index-only scan fetched ' || (n.node ->> 'Heap Fetches') || ' rows from the table', 'medium',
           jsonb_build_object('heap_fetches', (n.node ->> 'Heap Fetches')::bigint,
                              'rows', n.actual_rows * greatest(n.loops, 1)),
           format('The visibility map is behind, so rows are checked in the table: VACUUM %s; (or tune autovacuum for it).', n.relation)
      FROM nodes n
     WHERE n.node_type = 'Index Only Scan'
       AND (n.node ->> 'Heap Fetches')::float8 >= greatest(0.1 * n.actual_rows * greatest(n.loops, 1), 100)
    UNION ALL
    -- bitmaps that lost their row positions
    SELECT n.node_id, 'lossy bitmap: ' || (n.node ->> 'Lossy Heap Blocks') || ' blocks rechecked whole', 'medium',
           jsonb_build_object('lossy_blocks', (n.node ->> 'Lossy Heap Blocks')::bigint,
                              'exact_blocks', (n.node ->> 'Exact Heap Blocks')::bigint,
                              'work_mem', current_setting('work_mem')),
           'The bitmap did not fit in work_mem and kept whole pages instead of rows, so every row of those pages was rechecked: raise work_mem.'
      FROM nodes n
     WHERE (n.node ->> 'Lossy Heap Blocks')::bigint > 0
    UNION ALL
    -- parallel workers that never came
    SELECT n.node_id, 'workers planned ' || (n.node ->> 'Workers Planned') || ', launched ' || (n.node ->> 'Workers Launched'), 'medium',
           jsonb_build_object('workers_planned', (n.node ->> 'Workers Planned')::integer,
                              'workers_launched', (n.node ->> 'Workers Launched')::integer,
                              'max_parallel_workers', current_setting('max_parallel_workers')),
           'Fewer parallel workers than planned were available: raise max_parallel_workers (and max_worker_processes), or run fewer parallel queries at once.'
      FROM nodes n
     WHERE (n.node ->> 'Workers Launched')::integer < (n.node ->> 'Workers Planned')::integer
    UNION ALL
    -- subplans run once per outer row
    SELECT n.node_id, coalesce(n.node ->> 'Subplan Name', 'subplan') || ' runs ' || round(n.loops)::text || ' times', 'high',
           jsonb_build_object('loops', n.loops, 'ms', round(n.total_ms::numeric, 3)),
           'This subquery is executed once per row of the query around it: rewrite it as a join (or a LATERAL join), so it runs once.'
      FROM nodes n
     WHERE n.parent_relationship = 'SubPlan' AND n.loops >= 100
    UNION ALL
    SELECT n.node_id, 'CTE ' || coalesce(n.node ->> 'CTE Name', '') || ' scanned ' || round(n.loops)::text || ' times', 'medium',
           jsonb_build_object('loops', n.loops, 'ms', round(n.total_ms::numeric, 3)),
           'The CTE is read once per outer row: join it instead, or let the planner inline it (NOT MATERIALIZED).'
      FROM nodes n
     WHERE n.node_type = 'CTE Scan' AND n.loops >= 100
    UNION ALL
    -- planning as slow as the execution, for a statement run again and again
    SELECT 1, 'planning took ' || round(t.planning_ms::numeric, 3) || ' ms, execution ' || round(t.execution_ms::numeric, 3) || ' ms',
           'medium',
           jsonb_build_object('planning_ms', t.planning_ms, 'execution_ms', t.execution_ms, 'executions', executions),
           'Planning costs as much as running the statement: prepare it (a prepared statement, or your driver''s statement cache) so it is planned once.'
      FROM top t
     WHERE t.planning_ms >= t.execution_ms AND t.planning_ms >= 0.1 AND coalesce(executions, 2) > 1
    UNION ALL
    SELECT 1, 'JIT took ' || round(t.jit_ms::numeric, 3) || ' ms, ' || round((100 * t.jit_ms / t.execution_ms)::numeric) || '% of the execution',
           'medium',
           jsonb_build_object('jit_ms', t.jit_ms, 'execution_ms', t.execution_ms, 'jit_above_cost', current_setting('jit_above_cost')),
           'Compiling the query costs more than it saves: raise jit_above_cost (or SET jit = off for this query).'
      FROM top t
     WHERE t.jit_ms > 0.1 * t.execution_ms
)
SELECT f.node_id, n.node_type, n.relation, n.index_name, f.finding, f.severity, f.figures, f.suggestion
  FROM found f
  JOIN nodes n ON n.node_id = f.node_id
 ORDER BY n.exclusive_ms DESC, f.node_id,
          CASE f.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, f.finding
$$;

-- One statement without parameters, or an ERROR (plan_advice.c).
CREATE FUNCTION sdp._check_explainable(query text)
RETURNS void
AS 'MODULE_PATHNAME', 'sdp_check_explainable'
LANGUAGE C VOLATILE STRICT;

-- Does a JSON plan write (INSERT, UPDATE, DELETE, MERGE anywhere, data-
-- modifying CTEs included)?
CREATE FUNCTION sdp._plan_writes(plan jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
SELECT EXISTS (SELECT 1 FROM sdp._plan_nodes(plan) WHERE node_type = 'ModifyTable')
$$;

-- sdp.explain_advice(query, analyze, allow_writes): EXPLAIN the statement
-- as the caller, under the caller's search_path (so this function has no
-- SET search_path: every name in it is qualified), and return the
-- findings.  The statement is checked (one statement, no parameters) and
-- prepared, then explained inside a subtransaction that is always
-- rolled back (non-transactional effects stay: sequences, session
-- advisory locks); with analyze, one that writes is refused unless
-- allow_writes.  The caller's statement_timeout holds.  ("analyze" is a
-- reserved word: pass it by position, or as "analyze" => false.)
CREATE FUNCTION sdp.explain_advice(query text, "analyze" boolean DEFAULT true,
                                   allow_writes boolean DEFAULT false)
RETURNS TABLE (node_id integer, node_type text, relation text, index_name text,
               finding text, severity text, figures jsonb, suggestion text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    plan pg_catalog.jsonb;
    stmt constant pg_catalog.text := 'sdp_explain_advice';
    -- the plan leaves the rolled-back block in an error only this call can raise
    token constant pg_catalog.text := pg_catalog.md5(pg_catalog.clock_timestamp()::pg_catalog.text
                                        OPERATOR(pg_catalog.||) pg_catalog.random()::pg_catalog.text);
    message pg_catalog.text;
BEGIN
    IF query IS NULL OR explain_advice."analyze" IS NULL OR allow_writes IS NULL THEN
        RAISE EXCEPTION 'query, analyze and allow_writes must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- one statement only: a second one would run outside EXPLAIN
    PERFORM sdp._check_explainable(query);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements p WHERE p.name OPERATOR(pg_catalog.=) stmt) THEN
        EXECUTE 'DEALLOCATE ' OPERATOR(pg_catalog.||) stmt;   -- left by a cancelled call
    END IF;
    EXECUTE 'PREPARE ' OPERATOR(pg_catalog.||) stmt OPERATOR(pg_catalog.||) ' AS '
            OPERATOR(pg_catalog.||) query;
    BEGIN
        EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE ' OPERATOR(pg_catalog.||) stmt INTO plan;
        IF explain_advice."analyze" THEN
            IF sdp._plan_writes(plan) AND NOT allow_writes THEN
                RAISE EXCEPTION 'the statement writes, and EXPLAIN ANALYZE would run it'
                    USING ERRCODE = 'read_only_sql_transaction',
                          HINT = 'Pass allow_writes => true: it then runs in a subtransaction that is rolled back, so nothing changes; or pass false as the second argument for the plan alone.';
            END IF;
            EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) EXECUTE '
                    OPERATOR(pg_catalog.||) stmt INTO plan;
            -- the statement that ran is the one checked (it could have been
            -- prepared anew while the first EXPLAIN planned it)
            IF sdp._plan_writes(plan) AND NOT allow_writes THEN
                RAISE EXCEPTION 'the statement writes, and EXPLAIN ANALYZE ran it (its writes are rolled back)'
                    USING ERRCODE = 'read_only_sql_transaction',
                          HINT = 'Pass allow_writes => true, or false as the second argument for the plan alone.';
            END IF;
        END IF;
        -- undo whatever it did: the plan leaves with the error
        RAISE EXCEPTION USING ERRCODE = 'SDP01', MESSAGE = token OPERATOR(pg_catalog.||) plan::pg_catalog.text;
    EXCEPTION
        WHEN SQLSTATE 'SDP01' THEN
            message := SQLERRM;
            EXECUTE 'DEALLOCATE ' OPERATOR(pg_catalog.||) stmt;
            IF pg_catalog.left(message, 32) OPERATOR(pg_catalog.<>) token THEN
                RAISE EXCEPTION 'the explained statement raised SQLSTATE SDP01, which sdp.explain_advice uses itself'
                    USING ERRCODE = 'SDP01';
            END IF;
            plan := pg_catalog.substr(message, 33)::pg_catalog.jsonb;
        WHEN OTHERS OR query_canceled THEN
            EXECUTE 'DEALLOCATE ' OPERATOR(pg_catalog.||) stmt;
            RAISE;
    END;
    RETURN QUERY SELECT * FROM sdp._plan_findings(plan);
END
$$;

COMMENT ON FUNCTION sdp.explain_advice(text, boolean, boolean) IS
'EXPLAIN ANALYZE a statement (rolled back) and return findings: misestimates, filters, spills, loops, heap fetches, lossy bitmaps, workers, planning and JIT time';

-- The structured plans of this database's captured slow executions
-- (slow_queries.c): 'captured' with the JSON plan when the execution was
-- sampled with actual rows (plan_capture = slow_analyze), 'too large'
-- over max_plan_json, 'not sampled' otherwise.  Another user's need
-- pg_read_all_stats (plans show constants).
CREATE FUNCTION sdp._slow_query_plans(
    OUT seq bigint,
    OUT executed_at timestamptz,
    OUT duration_ms double precision,
    OUT userid oid,
    OUT queryid bigint,
    OUT toplevel boolean,
    OUT query text,
    OUT plan_state text,
    OUT plan text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_slow_query_plans'
LANGUAGE C VOLATILE;

-- The findings of every captured slow execution, newest first; an
-- execution whose plan was too large to keep says so.
CREATE VIEW sdp.slow_query_advice AS
    SELECT p.executed_at, p.duration_ms, p.userid, p.queryid, p.query,
           f.node_id, f.node_type, f.relation, f.index_name, f.finding,
           f.severity, f.figures, f.suggestion
      FROM sdp._slow_query_plans() p
     CROSS JOIN LATERAL sdp._plan_findings(p.plan::pg_catalog.jsonb,
           (SELECT pg_catalog.sum(t.calls)::pg_catalog.int8 FROM sdp.query_totals t
             WHERE t.queryid = p.queryid AND t.userid = p.userid
               AND t.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                              WHERE d.datname = pg_catalog.current_database()))) f
     WHERE p.plan_state = 'captured'
    UNION ALL
    SELECT p.executed_at, p.duration_ms, p.userid, p.queryid, p.query,
           NULL, NULL, NULL, NULL, 'plan too large for advice', 'info',
           pg_catalog.jsonb_build_object('max_plan_json',
                                         pg_catalog.current_setting('smart_dairy_perf.max_plan_json')),
           'Raise smart_dairy_perf.max_plan_json (a restart) to keep plans this large in structured form.'
      FROM sdp._slow_query_plans() p
     WHERE p.plan_state = 'too large'
    UNION ALL
    SELECT p.executed_at, p.duration_ms, p.userid, p.queryid, p.query,
           NULL, NULL, NULL, NULL, 'plan not readable', 'info', NULL,
           'EXPLAIN printed no valid JSON for this plan (a cost overflowed to Infinity: a planner cost setting such as seq_page_cost set absurdly high).'
      FROM sdp._slow_query_plans() p
     WHERE p.plan_state = 'not valid JSON'
     ORDER BY 1 DESC, 6;

COMMENT ON VIEW sdp.slow_query_advice IS
'findings of sdp.explain_advice for every slow execution captured with actual rows (plan_capture = slow_analyze)';

GRANT SELECT ON sdp.slow_query_advice TO PUBLIC;

------------------------------------------------------------------------
-- Plan advice in the report and the metrics: findings beside each slow
-- plan, plans kept unwrapped (a wide one scrolls in its cell), durations
-- below a millisecond in microseconds; sdp_slow_plan_findings
------------------------------------------------------------------------

CREATE FUNCTION sdp._duration_text(ms double precision)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN ms > 0 AND ms < 1 THEN round((ms * 1000)::numeric, CASE WHEN ms < 0.01 THEN 1 ELSE 0 END) || ' µs'
            ELSE round(ms::numeric, 2) || ' ms' END
$$;


CREATE OR REPLACE FUNCTION sdp._report_section(fmt text, title text, query text, empty text DEFAULT 'nothing to report')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rows json;
    cols text[];
    cells text[][];
    widths int[];
    out text := '';
    line text;
    r json;
    i int;
BEGIN
    EXECUTE format('SELECT coalesce(json_agg(t), ''[]'') FROM (%s) t', query) INTO rows;
    IF json_array_length(rows) = 0 THEN
        RETURN CASE fmt
            WHEN 'html' THEN format(E'<h2>%s</h2>\n<p class="none">%s</p>\n', sdp._html(title), sdp._html(empty))
            WHEN 'markdown' THEN format(E'## %s\n\n_%s_\n\n', title, empty)
            ELSE format(E'%s\n%s\n%s\n\n', title, repeat('-', length(title)), empty) END;
    END IF;
    SELECT array_agg(k) INTO cols FROM json_object_keys(rows -> 0) k;
    IF fmt = 'html' AND json_array_length(rows) = 1 AND array_length(cols, 1) > 6 THEN
        -- one wide row (the summary): a name per line reads better
        RETURN format(E'<h2>%s</h2>\n<table>\n', sdp._html(title))
            || (SELECT string_agg('<tr><th>' || sdp._html(c) || '</th><td>'
                                  || sdp._html(rows -> 0 ->> c) || E'</td></tr>\n', '' ORDER BY o)
                  FROM unnest(cols) WITH ORDINALITY u(c, o))
            || E'</table>\n';
    ELSIF fmt = 'html' THEN
        -- a wide table scrolls inside the page instead of overflowing it
        out := format(E'<h2>%s</h2>\n<div style="overflow-x:auto">\n<table>\n<tr>', sdp._html(title))
            || (SELECT string_agg('<th>' || sdp._html(c) || '</th>', '') FROM unnest(cols) c) || E'</tr>\n';
        FOR r IN SELECT * FROM json_array_elements(rows) LOOP
            out := out || '<tr>' || (SELECT string_agg(
                       CASE WHEN c = 'plan'
                            THEN '<td><pre class="plan">' || sdp._html(r ->> c) || '</pre></td>'
                            WHEN c IN ('suggestion', 'ddl', 'query', 'sample_query', 'advice')
                            THEN '<td><pre>' || sdp._html(r ->> c) || '</pre></td>'
                            ELSE '<td>' || sdp._html(r ->> c) || '</td>' END, '' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o)) || E'</tr>\n';
        END LOOP;
        RETURN out || E'</table>\n</div>\n';
    ELSIF fmt = 'markdown' THEN
        out := format(E'## %s\n\n| %s |\n|%s\n', title, array_to_string(cols, ' | '),
                      repeat(' --- |', array_length(cols, 1)));
        FOR r IN SELECT * FROM json_array_elements(rows) LOOP
            out := out || '| ' || (SELECT string_agg(
                       replace(replace(coalesce(r ->> c, ''), '|', '\|'), E'\n', '<br>'), ' | ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o)) || E' |\n';
        END LOOP;
        RETURN out || E'\n';
    END IF;
    -- text: aligned columns, long cells cut; plans and suggestions follow
    -- their row in full, indented
    SELECT array_agg(greatest(length(c),
               (SELECT max(least(length(coalesce(x ->> c, '')), 60)) FROM json_array_elements(rows) x)) ORDER BY o)
      INTO widths FROM unnest(cols) WITH ORDINALITY u(c, o);
    out := format(E'%s\n%s\n', title, repeat('-', length(title)));
    out := out || (SELECT string_agg(rpad(c, widths[o]), '  ' ORDER BY o)
                     FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion', 'advice')) || E'\n';
    FOR r IN SELECT * FROM json_array_elements(rows) LOOP
        line := (SELECT string_agg(rpad(left(regexp_replace(coalesce(r ->> c, ''), '\s+', ' ', 'g'), 60), widths[o]),
                                   '  ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion', 'advice'));
        out := out || rtrim(line) || E'\n';
        FOR i IN SELECT o FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c IN ('plan', 'suggestion', 'advice') LOOP
            IF r ->> cols[i] IS NOT NULL THEN
                out := out || regexp_replace(r ->> cols[i], '^', '    ', 'gn') || E'\n';
            END IF;
        END LOOP;
    END LOOP;
    RETURN out || E'\n';
END
$$;


CREATE OR REPLACE FUNCTION sdp._svg_bars(title text, labels text[], series text[], vals double precision[][], unit text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    colors text[] := ARRAY['#4e79a7', '#f28e2b', '#e15759'];
    n int := coalesce(array_length(labels, 1), 0);
    k int := coalesce(array_length(series, 1), 0);
    bar int := 12;
    row_h int;
    top_y int := 40;
    left_x int := 330;
    chart_w int := 420;
    vmax double precision;
    vmin double precision;
    log_axis boolean;
    lo int;
    hi int;
    svg text;
    y int;
    v double precision;
    w numeric;
BEGIN
    IF n = 0 THEN RETURN ''; END IF;
    row_h := bar * k + 10;
    SELECT max(x), min(x) FILTER (WHERE x > 0) INTO vmax, vmin FROM unnest(vals) x;
    vmax := greatest(coalesce(vmax, 0), 1e-9);
    log_axis := unit = 'ms' AND vmin IS NOT NULL AND vmax / vmin > 100;
    IF log_axis THEN
        lo := floor(log(vmin))::int;
        hi := greatest(ceil(log(vmax))::int, lo + 1);
    END IF;
    svg := format('<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%s" height="%s" viewBox="0 0 %s %s">',
                  left_x + chart_w + 90, top_y + n * row_h + 30, left_x + chart_w + 90, top_y + n * row_h + 30)
        || format('<title>%s</title><text x="0" y="16" class="ct">%s%s</text>', sdp._html(title), sdp._html(title),
                  CASE WHEN log_axis THEN ' (log scale)' ELSE '' END);
    FOR s IN 1..k LOOP
        svg := svg || format('<rect x="%s" y="24" width="10" height="10" fill="%s"/><text x="%s" y="33" class="lg">%s</text>',
                             left_x + (s - 1) * 90, colors[s], left_x + (s - 1) * 90 + 14, sdp._html(series[s]));
    END LOOP;
    IF log_axis THEN
        FOR d IN lo..hi LOOP
            svg := svg || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#ccc"/>'
                                 || '<text x="%s" y="%s" class="lg" text-anchor="middle">%s</text>',
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y - 2,
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y + n * row_h,
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y + n * row_h + 14,
                                 CASE WHEN unit = 'ms' AND d < 0
                                      THEN trim_scale(round(power(10::numeric, d + 3), greatest(-d - 3, 0))) || ' µs'
                                      ELSE trim_scale(round(power(10::numeric, d), greatest(-d, 0))) || ' ' || unit END);
        END LOOP;
    END IF;
    FOR i IN 1..n LOOP
        y := top_y + (i - 1) * row_h;
        svg := svg || format('<text x="%s" y="%s" class="lb" text-anchor="end">%s</text>', left_x - 6,
                             y + row_h / 2 + 3, sdp._html(left(labels[i], 48)));
        FOR s IN 1..k LOOP
            v := coalesce(vals[i][s], 0);
            w := CASE WHEN NOT log_axis THEN round((chart_w * v / vmax)::numeric, 1)
                      WHEN v <= 0 THEN 0
                      ELSE round((chart_w * greatest(log(v) - lo, 0.01) / (hi - lo))::numeric, 1) END;
            svg := svg || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>'
                                 || '<text x="%s" y="%s" class="vl">%s</text>',
                                 left_x, y + (s - 1) * bar, w, bar - 2, colors[s], sdp._html(series[s]),
                                 CASE WHEN unit = 'ms' THEN sdp._duration_text(v) ELSE round(v::numeric, 3) || ' ' || unit END,
                                 left_x + round(w) + 4, y + (s - 1) * bar + bar - 3,
                                 CASE WHEN unit = 'ms' THEN sdp._duration_text(v) ELSE round(v::numeric, 2) || ' ' || unit END);
        END LOOP;
    END LOOP;
    RETURN svg || '</svg>';
END
$$;

-- sdp.report() is replaced once, with all of this version's sections, at
-- the end of this script.

CREATE OR REPLACE FUNCTION sdp.metrics(top integer DEFAULT 20)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
WITH me AS (SELECT oid AS dbid, datname FROM pg_catalog.pg_database WHERE datname = current_database()),
q AS (
    SELECT t.queryid, sum(t.calls) AS calls, sum(t.total_exec_time) AS total_ms
      FROM sdp.query_totals t, me
     WHERE t.dbid = me.dbid AND t.queryid IS NOT NULL
     GROUP BY t.queryid
     ORDER BY sum(t.total_exec_time) DESC
     LIMIT top
),
lbl AS (
    SELECT q.*, format('datname=%s,queryid=%s', sdp._prom_label(me.datname),
                       sdp._prom_label(q.queryid::text)) AS l
      FROM q, me
),
hist AS (
    SELECT h.queryid, h.le_ms, sum(h.count) AS count
      FROM sdp._query_histograms() h, me
     WHERE h.dbid = me.dbid AND h.queryid IN (SELECT queryid FROM q)
     GROUP BY h.queryid, h.le_ms
)
SELECT
  sdp._prom_family('sdp_query_calls_total', 'counter',
      'Executions of each of the top statements by total time since the statistics reset.',
      (SELECT string_agg(format(E'sdp_query_calls_total{%s} %s\n', l, calls), '' ORDER BY total_ms DESC) FROM lbl))
  || sdp._prom_family('sdp_query_exec_seconds', 'histogram',
      'Execution time of each of the top statements.',
      (SELECT string_agg(
           (SELECT string_agg(format(E'sdp_query_exec_seconds_bucket{%s,le="%s"} %s\n', lbl.l,
                                     (h.le_ms / 1000)::text, h.count), '' ORDER BY h.le_ms)
              FROM hist h WHERE h.queryid = lbl.queryid)
           || format(E'sdp_query_exec_seconds_bucket{%s,le="+Inf"} %s\n', l, calls)
           || format(E'sdp_query_exec_seconds_sum{%s} %s\n', l, round((total_ms / 1000)::numeric, 6))
           || format(E'sdp_query_exec_seconds_count{%s} %s\n', l, calls), '' ORDER BY total_ms DESC)
         FROM lbl))
  || sdp._prom_family('sdp_nplus1_bursts_total', 'counter',
      'N+1 bursts seen per repeated statement.',
      (SELECT string_agg(format(E'sdp_nplus1_bursts_total{queryid=%s,kind=%s} %s\n',
                                sdp._prom_label(n.queryid::text), sdp._prom_label(n.kind), n.occurrences), ''
                         ORDER BY n.queryid)
         FROM sdp.n_plus_one n WHERE n.queryid IS NOT NULL))
  || sdp._prom_family('sdp_nplus1_seconds_total', 'counter',
      'Execution time spent inside N+1 bursts per repeated statement.',
      (SELECT string_agg(format(E'sdp_nplus1_seconds_total{queryid=%s,kind=%s} %s\n',
                                sdp._prom_label(n.queryid::text), sdp._prom_label(n.kind),
                                round((n.total_exec_ms / 1000)::numeric, 6)), '' ORDER BY n.queryid)
         FROM sdp.n_plus_one n WHERE n.queryid IS NOT NULL))
  || sdp._prom_family('sdp_partitions_ahead', 'gauge',
      'Partitions of a managed table that start in the future.',
      (SELECT string_agg(format(E'sdp_partitions_ahead{parent=%s} %s\n', sdp._prom_label(c.parent::text),
                                (SELECT count(*) FROM sdp._range_partitions(
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'), c.parent) p
                                  WHERE NOT p.is_default AND p.from_local > (now() AT TIME ZONE
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC')))), ''
                         ORDER BY c.parent::text)
         FROM sdp.partition_config c JOIN pg_catalog.pg_class k ON k.oid = c.parent))
  || sdp._prom_family('sdp_partitions_missing', 'gauge',
      'Partitions a managed table lacks to cover its premake window (0 when maintenance is on time).',
      (SELECT string_agg(format(E'sdp_partitions_missing{parent=%s} %s\n', sdp._prom_label(c.parent::text),
                                greatest(c.premake - (SELECT count(*) FROM sdp._range_partitions(
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'), c.parent) p
                                  WHERE NOT p.is_default AND p.from_local > (now() AT TIME ZONE
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'))), 0)), ''
                         ORDER BY c.parent::text)
         FROM sdp.partition_config c JOIN pg_catalog.pg_class k ON k.oid = c.parent))
  || sdp._prom_family('sdp_matview_staleness_seconds', 'gauge',
      'How long a registered materialized view has lagged behind its base tables (0 when current).',
      (SELECT string_agg(format(E'sdp_matview_staleness_seconds{matview=%s} %s\n', sdp._prom_label(m.matview::text),
                                coalesce(round(extract(epoch FROM m.staleness)::numeric, 3), 0)), '' ORDER BY m.matview::text)
         FROM sdp.matviews m))
  || sdp._prom_family('sdp_cache_hit_ratio', 'gauge',
      'Share of block reads of this database served from shared buffers.',
      (SELECT format(E'sdp_cache_hit_ratio{datname=%s} %s\n', sdp._prom_label(c.name), coalesce(c.hit_ratio, 1))
         FROM sdp.cache_hit_ratio c WHERE c.scope = 'database'))
  || sdp._prom_family('sdp_connections', 'gauge',
      'Client connections to this database by state.',
      (SELECT string_agg(format(E'sdp_connections{state=%s} %s\n', sdp._prom_label(state), n), '' ORDER BY state)
         FROM (SELECT c.state, sum(c.connections) AS n FROM sdp.connections c
                WHERE c.database = current_database() GROUP BY c.state) x))
  || sdp._prom_family('sdp_slow_plan_findings', 'gauge',
      'Findings of plan advice on the slow executions captured with actual rows (sdp.slow_query_advice), by severity.',
      (SELECT string_agg(format(E'sdp_slow_plan_findings{severity=%s} %s\n', sdp._prom_label(s.severity),
                                coalesce(f.n, 0)), '' ORDER BY s.severity)
         FROM unnest(ARRAY['high', 'medium']) s(severity)
         LEFT JOIN (SELECT a.severity, count(*) AS n FROM sdp.slow_query_advice a
                     WHERE a.finding <> 'time' GROUP BY a.severity) f USING (severity)))
  || sdp._prom_family('sdp_profiler_entries', 'gauge',
      'Statement statistics entries held in shared memory.',
      (SELECT format(E'sdp_profiler_entries %s\n', i.entries) FROM sdp.profiler_info i))
  || sdp._prom_family('sdp_profiler_evictions_total', 'counter',
      'Entries evicted to make room since the last full reset.',
      (SELECT format(E'sdp_profiler_evictions_total %s\n', i.evictions) FROM sdp.profiler_info i))
$$;

-- ====================================================================
-- Issue 18: partition maintenance that never stalls the workload
-- ====================================================================
ALTER TABLE sdp.partition_config
    ADD COLUMN default_partition boolean NOT NULL DEFAULT true,
    ADD COLUMN partition_timezone text NOT NULL
        DEFAULT coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'),
    ADD COLUMN retention_if_referenced text NOT NULL DEFAULT 'error'
        CHECK (retention_if_referenced IN ('error', 'keep'));
COMMENT ON COLUMN sdp.partition_config.default_partition IS
'false: no default partition is made; new partitions attach without locking out readers, a row beyond the partitions fails its INSERT';
COMMENT ON COLUMN sdp.partition_config.partition_timezone IS
'time zone of the period boundaries (local midnight of the 1st for monthly partitions of a timestamptz key)';
COMMENT ON COLUMN sdp.partition_config.retention_if_referenced IS
'retention of a partition a foreign key or a view depends on: error (refused, logged, naming the constraint) or keep (kept, logged)';

DROP FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz);
CREATE FUNCTION sdp.manage_partitions(
    parent regclass,
    partition_interval interval DEFAULT '1 month',
    premake integer DEFAULT 3,
    retention interval DEFAULT NULL,
    retention_mode text DEFAULT 'detach',
    start_at timestamptz DEFAULT NULL,
    default_partition boolean DEFAULT NULL,
    partition_timezone text DEFAULT NULL,
    retention_if_referenced text DEFAULT NULL)
RETURNS TABLE (partition text, range_from text, range_to text, rows_moved bigint)
AS 'MODULE_PATHNAME', 'sdp_manage_partitions'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz, boolean, text, text) FROM PUBLIC;


-- ===========================================================================
-- issue 14: the profiler counts what pg_stat_statements counts
-- ===========================================================================
-- sdp.query_stats gains the planning (track_planning), temporary-file I/O
-- time and JIT columns of pg_stat_statements 1.10; the views over it are
-- made again, and sdp.pg_stat_statements shows pg_stat_statements' view.
DROP VIEW sdp.slow_query_advice;
DROP VIEW sdp.query_totals;
DROP VIEW sdp.query_stats;
DROP FUNCTION sdp.query_stats(boolean, boolean);

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

GRANT SELECT ON sdp.query_stats, sdp.query_totals, sdp.pg_stat_statements
    TO PUBLIC;

-- made again over the new sdp.query_totals, as in plan_advice.sql
CREATE VIEW sdp.slow_query_advice AS
    SELECT p.executed_at, p.duration_ms, p.userid, p.queryid, p.query,
           f.node_id, f.node_type, f.relation, f.index_name, f.finding,
           f.severity, f.figures, f.suggestion
      FROM sdp._slow_query_plans() p
     CROSS JOIN LATERAL sdp._plan_findings(p.plan::pg_catalog.jsonb,
           (SELECT pg_catalog.sum(t.calls)::pg_catalog.int8 FROM sdp.query_totals t
             WHERE t.queryid = p.queryid AND t.userid = p.userid
               AND t.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                              WHERE d.datname = pg_catalog.current_database()))) f
     WHERE p.plan_state = 'captured'
    UNION ALL
    SELECT p.executed_at, p.duration_ms, p.userid, p.queryid, p.query,
           NULL, NULL, NULL, NULL, 'plan too large for advice', 'info',
           pg_catalog.jsonb_build_object('max_plan_json',
                                         pg_catalog.current_setting('smart_dairy_perf.max_plan_json')),
           'Raise smart_dairy_perf.max_plan_json (a restart) to keep plans this large in structured form.'
      FROM sdp._slow_query_plans() p
     WHERE p.plan_state = 'too large'
    UNION ALL
    SELECT p.executed_at, p.duration_ms, p.userid, p.queryid, p.query,
           NULL, NULL, NULL, NULL, 'plan not readable', 'info', NULL,
           'EXPLAIN printed no valid JSON for this plan (a cost overflowed to Infinity: a planner cost setting such as seq_page_cost set absurdly high).'
      FROM sdp._slow_query_plans() p
     WHERE p.plan_state = 'not valid JSON'
     ORDER BY 1 DESC, 6;

COMMENT ON VIEW sdp.slow_query_advice IS
'findings of sdp.explain_advice for every slow execution captured with actual rows (plan_capture = slow_analyze)';

GRANT SELECT ON sdp.slow_query_advice TO PUBLIC;


-- ---------------------------------------------------------------------
-- issue 13: per-shape resolution context and samples (sdp.query_samples)
-- ---------------------------------------------------------------------

CREATE FUNCTION sdp._query_samples(
    OUT userid oid,
    OUT dbid oid,
    OUT queryid bigint,
    OUT toplevel boolean,
    OUT application text,
    OUT search_path text,
    OUT sample_query text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_query_samples'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- One row per row of sdp.query_stats (same user, database, query id,
-- top-level flag and application): the search_path the shape was first
-- run under (NULL when longer than 255 bytes) and the text of that first
-- execution with its constants, cut at max_query_text (NULL with
-- smart_dairy_perf.query_samples off).  Another user's are shown only to
-- members of pg_read_all_stats, as the normalized text is.
CREATE VIEW sdp.query_samples AS
    SELECT * FROM sdp._query_samples();

COMMENT ON VIEW sdp.query_samples IS
'per query shape: the search_path it first ran under and one text with its real constants';

GRANT SELECT ON sdp.query_samples TO PUBLIC;

-- issue 13: index advisor coverage (sdp.advisor_coverage, the NOTICE of
-- sdp.recommend_indexes(), the report's line)

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

-- The one function here without a restricted search_path: it only passes
-- the caller's on, fully qualified.  It says in a NOTICE how much of the
-- workload the advice covers.
CREATE OR REPLACE FUNCTION sdp.recommend_indexes(min_improvement_pct numeric DEFAULT 10)
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

REVOKE ALL ON FUNCTION sdp._advisor_coverage(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.advisor_coverage(text) FROM PUBLIC;

-- sdp.report() gains the "Index advisor coverage" section: replaced at
-- the end of this script.

-- issue 13: hide and validate indexes (sdp.hide_index, sdp.unhide_index,
-- sdp.hidden_indexes, sdp.validate_index)

-- Hidden for the calling session only, until unhidden or the session ends;
-- the index is still maintained and still enforces its constraint.
-- Session state only, like SET enable_indexscan: open to every role.
CREATE FUNCTION sdp.hide_index(index regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sdp_hide_index'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION sdp.hide_index(regclass) IS
'hide an index from this session''s planner; true when newly hidden';

CREATE FUNCTION sdp.unhide_index(index regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sdp_unhide_index'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION sdp.unhide_index(regclass) IS
'show a hidden index to this session''s planner again; true when it was hidden';

CREATE FUNCTION sdp.hidden_indexes()
RETURNS TABLE (index regclass, "table" regclass)
AS 'MODULE_PATHNAME', 'sdp_hidden_indexes'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION sdp._validate_index(index regclass, runs integer, timeout_ms integer)
RETURNS TABLE (queryid bigint, sample_query text, calls bigint, total_exec_ms double precision,
               ms_with_index double precision, ms_without_index double precision,
               speedup double precision, runs integer, verdict text, error text)
AS 'MODULE_PATHNAME', 'sdp_validate_index'
LANGUAGE C STRICT VOLATILE;

-- The profiled statements whose plan uses the index, run again from their
-- samples (read-only, rolled back, each with timeout_ms) with the index
-- visible and hidden: the median measured time of each, heaviest first.
CREATE FUNCTION sdp.validate_index(index regclass, runs integer DEFAULT 3,
                                   timeout_ms integer DEFAULT 5000)
RETURNS TABLE (queryid bigint, sample_query text, calls bigint, total_exec_ms numeric,
               ms_with_index numeric, ms_without_index numeric, speedup numeric,
               runs integer, verdict text, error text)
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT v.queryid, v.sample_query, v.calls, round(v.total_exec_ms::numeric, 1),
       round(v.ms_with_index::numeric, 3), round(v.ms_without_index::numeric, 3),
       round(v.speedup::numeric, 2), v.runs, v.verdict, v.error
  FROM sdp._validate_index(index, runs, timeout_ms) v
 ORDER BY v.total_exec_ms DESC, v.queryid
$$;

-- It runs other roles' statements as them: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp._validate_index(regclass, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.validate_index(regclass, integer, integer) FROM PUBLIC;

-- issue 13: sdp.snapshot() on a hot standby says where to take snapshots

-- Keep the statistics now, all users and applications added up per query.
-- Percentiles of a query across applications: the highest of them (an
-- upper bound; per application they are in sdp.query_stats).
CREATE OR REPLACE FUNCTION sdp.snapshot(label text, automatic boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    snap bigint;
BEGIN
    IF label IS NULL OR btrim(label) = '' THEN
        RAISE EXCEPTION 'a snapshot needs a label'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example sdp.snapshot(''before indexes'').';
    END IF;
    IF EXISTS (SELECT 1 FROM sdp.snapshots s WHERE s.label = snapshot.label) THEN
        RAISE EXCEPTION 'a snapshot labelled "%" already exists', label
            USING ERRCODE = 'unique_violation',
                  HINT = format('Choose another label, or DELETE FROM sdp.snapshots WHERE label = %L first.', label);
    END IF;
    -- a standby cannot write the snapshot's rows: say where to take them
    IF pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot take a snapshot on a hot standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'A snapshot is rows of sdp.snapshots, and a standby cannot write. This standby''s own statistics stay readable here: sdp.query_stats, sdp.report().',
                  HINT = 'Take snapshots on the primary. To keep this standby''s figures, copy them out, e.g. \copy (SELECT * FROM sdp.query_totals) TO ''standby_stats.csv'' CSV HEADER';
    END IF;
    INSERT INTO sdp.snapshots (label, stats_reset, automatic)
    SELECT label, i.stats_reset, automatic FROM sdp.profiler_info i
    RETURNING id INTO snap;
    INSERT INTO sdp.snapshot_queries
    SELECT snap, q.dbid, q.queryid, min(q.query), sum(q.calls), sum(q.total_exec_time),
           sum(q.total_exec_time) / greatest(sum(q.calls), 1),
           max(q.p95_exec_time), max(q.p99_exec_time), sum(q.rows)
      FROM sdp.query_totals q
     WHERE q.queryid IS NOT NULL
     GROUP BY q.dbid, q.queryid;
    RETURN snap;
END
$$;


-- ====================================================================
-- Issue 17: N+1 loops of up to five statements per row, the parent's rows,
-- framework tags, and no patterns of foreign-key checks or of the
-- extension's own code (sdp.n_plus_one gains columns: recreated).
-- ====================================================================
DROP VIEW sdp.n_plus_one;
DROP FUNCTION sdp.n_plus_one_patterns(boolean);

CREATE FUNCTION sdp.n_plus_one_patterns(
    showtext boolean DEFAULT true,
    OUT userid oid,
    OUT dbid oid,
    OUT queryid bigint,
    OUT query text,
    OUT kind text,
    OUT parent_queryid bigint,
    OUT parent_query text,
    OUT occurrences bigint,
    OUT total_repeats bigint,
    OUT max_repeats bigint,
    OUT total_exec_ms double precision,
    OUT nested boolean,
    OUT application_name text,
    OUT first_seen timestamptz,
    OUT last_seen timestamptz,
    OUT loop_id bigint,
    OUT loop_queryids bigint[],
    OUT loop_position integer,
    OUT per_iteration integer,
    OUT origin text,
    OUT parent_rows bigint,
    OUT parent_rows_known bigint,
    OUT tags text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_n_plus_one_patterns'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- The tags a framework writes in a statement's comment to say which code
-- sent it, as key-value pairs: SQLCommenter (key='value',...; values
-- URL-encoded; one with a %00, a non-ASCII escape or a non-ASCII character
-- is kept as written, so that decoding never fails, whatever the database
-- encoding, SQL_ASCII included) and Rails query log tags / marginalia
-- (key:value,...).
CREATE FUNCTION sdp.query_tags(comment text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT jsonb_object_agg(key, value)
  FROM (SELECT DISTINCT ON (m[1]) m[1] AS key,
               CASE WHEN v !~ '%[0-9A-Fa-f]{2}' OR v ~ '%(00|[89A-Fa-f][0-9A-Fa-f])' OR v ~ '[^\x01-\x7f]' THEN v
                    ELSE (SELECT convert_from(decode(string_agg(
                                     CASE WHEN t[1] ~ '^%' THEN substr(t[1], 2)
                                          ELSE encode(convert_to(t[1], 'UTF8'), 'hex') END,
                                     '' ORDER BY n), 'hex'), 'UTF8')
                            FROM regexp_matches(v, '%[0-9A-Fa-f]{2}|.', 'g') WITH ORDINALITY AS c(t, n))
               END AS value
          FROM regexp_matches(comment,
                              '([A-Za-z_][A-Za-z0-9_.%-]*)\s*[=:]\s*(''[^'']*''|[^,'']*)', 'g')
               WITH ORDINALITY AS x(m, o),
               LATERAL (SELECT btrim(btrim(m[2]), '''') AS v) y
         ORDER BY m[1], o DESC) kv
$$;

-- One row per N+1 pattern: the repeated statement, the statement that
-- drove the loop, the other statements of the same loop, how often and how
-- long, the rows the parent returned, the framework tags, and how to batch
-- it.  A loop of several statements per row (two associations loaded
-- lazily for each order) is one row per statement, with one loop_id.
-- Beside each, one example of the statement and of its parent with their
-- real constants, and the parent's tags read from its example.
CREATE VIEW sdp.n_plus_one AS
    WITH p AS (
        SELECT p.*,
               replace(substring(p.query from '(?i)from\s+([^\s,;()]+)'), '"', '') AS from_table
          FROM sdp.n_plus_one_patterns(true) p
    )
    SELECT p.queryid, p.query, p.kind, p.parent_queryid, p.parent_query,
           p.occurrences,
           round(p.total_repeats::numeric / nullif(p.occurrences, 0), 1) AS avg_repeats,
           p.max_repeats, p.total_exec_ms, p.nested, p.application_name,
           p.first_seen, p.last_seen,
           sdp.n_plus_one_suggestion(p.kind, p.query, p.parent_query, p.nested)
           || CASE WHEN cardinality(p.loop_queryids) > 1 AND p.kind = 'select_loop' THEN
                  CASE WHEN p.per_iteration > 1 AND p.parent_queryid = ANY (p.loop_queryids) THEN
                      format('. It runs %s times for each row of its parent, itself inside the loop: '
                             || 'eager-load the nested association in the outer query '
                             || '(Rails includes(a: :b), Django prefetch_related(''a__b''))', p.per_iteration)
                  ELSE
                      format('. It loops together with %s (%s statements per row): '
                             || 'eager-load these associations together '
                             || '(Rails includes(:a, :b), Django select_related / prefetch_related of both)',
                             coalesce((SELECT string_agg(DISTINCT coalesce(o.from_table, o.queryid::text), ', ')
                                         FROM p o
                                        WHERE o.loop_id = p.loop_id AND o.queryid <> p.queryid),
                                      'other statements'),
                             cardinality(p.loop_queryids))
                  END
              ELSE '' END AS suggestion,
           p.userid, p.dbid,
           p.loop_id, p.loop_queryids, p.loop_position, p.per_iteration,
           round(p.parent_rows::numeric / nullif(p.parent_rows_known, 0), 1) AS avg_parent_rows,
           sdp.query_tags(p.tags) AS tags,
           p.origin,
           rs.sample_query,
           ps.sample_query AS parent_sample_query,
           sdp.query_tags(substring(ps.sample_query from '(?s).*/\*(.*)\*/')) AS parent_tags
      FROM p
      -- one example of each statement with real constants (sdp.query_samples)
      LEFT JOIN LATERAL (
            SELECT s.sample_query FROM sdp.query_samples s
             WHERE s.userid = p.userid AND s.dbid = p.dbid AND s.queryid = p.queryid
             ORDER BY (s.toplevel = NOT p.nested) DESC, (s.application = p.application_name) DESC
             LIMIT 1) rs ON true
      LEFT JOIN LATERAL (
            SELECT s.sample_query FROM sdp.query_samples s
             WHERE s.userid = p.userid AND s.dbid = p.dbid AND s.queryid = p.parent_queryid
             ORDER BY (s.toplevel = NOT p.nested) DESC, (s.application = p.application_name) DESC
             LIMIT 1) ps ON true
     ORDER BY p.total_exec_ms DESC;

COMMENT ON VIEW sdp.n_plus_one IS
'N+1 query patterns: statements repeated in a loop by one session, with their parent, the statements looping with them, the parent''s rows, framework tags and a batching suggestion';

GRANT SELECT ON sdp.n_plus_one TO PUBLIC;

-- The report leaves the extension's own statements out of its findings
-- unless smart_dairy_perf.report_own_statements is on; its N+1 section
-- shows the loops, the parent's rows and the tags.
CREATE FUNCTION sdp._report_own_statements()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT coalesce(current_setting('smart_dairy_perf.report_own_statements', true), 'off')::boolean
$$;

-- Whether a role's statements may be taken for the extension's own by
-- their look (a text naming sdp., application smart_dairy_perf): only for
-- a role that reads all statistics (superusers, so the maintenance worker,
-- included); any other role could dress its statements up so and hide
-- them from the report.
CREATE FUNCTION sdp._report_trusted_role(role oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.oid = role AND pg_catalog.pg_has_role(r.oid, 'pg_read_all_stats', 'USAGE'))
$$;

CREATE OR REPLACE FUNCTION sdp.report(format text DEFAULT 'text', before text DEFAULT NULL, after text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fmt text := lower(format);
    out text := '';
    summary text;
    charts text := '';
    labels text[];
    vals double precision[][];
BEGIN
    IF fmt NOT IN ('text', 'markdown', 'html') THEN
        RAISE EXCEPTION 'unknown report format "%"', format
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use text, markdown or html.';
    END IF;
    IF (before IS NULL) <> (after IS NULL) THEN
        RAISE EXCEPTION 'a comparison needs two snapshots'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give both before and after labels, or neither.';
    END IF;
    IF before IS NOT NULL THEN
        PERFORM sdp._snapshot_id(before), sdp._snapshot_id(after);   -- clear errors first
    END IF;

    out := out || sdp._report_section(fmt, 'Summary', $q$
        SELECT (SELECT count(DISTINCT queryid) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS query_shapes,
               (SELECT sum(calls) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS executions,
               (SELECT round((sum(total_exec_time) / 1000)::numeric, 1) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS total_seconds,
               (SELECT round((sum(total_exec_time) / nullif(sum(calls), 0))::numeric, 3) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS mean_ms,
               (SELECT count(*) FROM sdp.slow_queries) AS slow_executions,
               (SELECT count(*) FROM sdp.n_plus_one) AS n_plus_one_patterns,
               (SELECT count(*) FROM sdp._recommend_indexes(10, current_setting('search_path'))) AS indexes_recommended,
               (SELECT count(*) FROM sdp.unused_indexes) + (SELECT count(*) FROM sdp.duplicate_indexes)
                 + (SELECT count(*) FROM sdp.redundant_indexes) AS indexes_to_drop,
               (SELECT hit_ratio FROM sdp.cache_hit_ratio WHERE scope = 'database') AS cache_hit_ratio,
               (SELECT coalesce(sum(connections), 0) FROM sdp.connections WHERE state LIKE 'idle in transaction%') AS idle_in_transaction
    $q$);

    IF fmt = 'html' THEN
        SELECT array_agg(left(regexp_replace(query, '\s+', ' ', 'g'), 48) ORDER BY total_exec_time DESC),
               array_agg(ARRAY[p50_exec_time, p95_exec_time, p99_exec_time] ORDER BY total_exec_time DESC)
          INTO labels, vals
          FROM (SELECT * FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND t.query IS NOT NULL
                   AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(t.userid)
                        OR (coalesce(t.query, '') !~ '\msdp\.'
                AND t.queryid NOT IN (SELECT s.queryid FROM sdp.query_stats s
                                       WHERE s.application_name LIKE 'smart_dairy_perf%' AND s.queryid IS NOT NULL
                                         AND sdp._report_trusted_role(s.userid))))
                 ORDER BY t.total_exec_time DESC LIMIT 8) x;
        charts := sdp._svg_bars('Latency percentiles of the top queries', labels,
                                ARRAY['p50', 'p95', 'p99'], vals, 'ms');
        SELECT array_agg(left(regexp_replace(query, '\s+', ' ', 'g'), 48) ORDER BY total_exec_time DESC),
               array_agg(ARRAY[total_exec_time / 1000] ORDER BY total_exec_time DESC)
          INTO labels, vals
          FROM (SELECT * FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND t.query IS NOT NULL
                   AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(t.userid)
                        OR (coalesce(t.query, '') !~ '\msdp\.'
                AND t.queryid NOT IN (SELECT s.queryid FROM sdp.query_stats s
                                       WHERE s.application_name LIKE 'smart_dairy_perf%' AND s.queryid IS NOT NULL
                                         AND sdp._report_trusted_role(s.userid))))
                 ORDER BY t.total_exec_time DESC LIMIT 8) x;
        charts := charts || sdp._svg_bars('Time by query', labels, ARRAY['total time'], vals, 's');
        out := out || '<div class="charts">' || charts || E'</div>\n';
    END IF;

    out := out || sdp._report_section(fmt, 'Top queries by total time', $q$
        SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 120) AS query, calls,
               round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
               round(p50_exec_time::numeric, 3) AS p50_ms, round(p95_exec_time::numeric, 3) AS p95_ms,
               round(p99_exec_time::numeric, 3) AS p99_ms
          FROM sdp.query_totals t
         WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(t.userid)
                        OR (coalesce(t.query, '') !~ '\msdp\.'
                AND t.queryid NOT IN (SELECT s.queryid FROM sdp.query_stats s
                                       WHERE s.application_name LIKE 'smart_dairy_perf%' AND s.queryid IS NOT NULL
                                         AND sdp._report_trusted_role(s.userid))))
         ORDER BY total_exec_time DESC LIMIT 10
    $q$, 'no statements profiled yet');
    -- beside each plan, the findings on it (sdp.slow_query_advice) when it
    -- was captured with actual rows
    out := out || sdp._report_section(fmt, 'Slow queries (slowest execution per shape)', $q$
        SELECT at, ms, app, query, plan,
               coalesce((SELECT string_agg(a.severity || ': ' || a.finding || coalesce(' (' || a.node_type
                                           || coalesce(' on ' || a.relation, '') || ')', '')
                                           || E'\n  ' || a.suggestion, E'\n' ORDER BY a.node_id)
                           FROM sdp.slow_query_advice a
                          WHERE a.queryid = x.queryid AND a.executed_at = x.executed_at
                            AND a.finding <> 'time'),
                        CASE WHEN plan_analyzed THEN 'nothing to advise' ELSE '-' END) AS advice
          FROM (
            SELECT DISTINCT ON (queryid) queryid, executed_at, plan_analyzed,
                   to_char(executed_at, 'YYYY-MM-DD HH24:MI:SS') AS at,
                   round(duration_ms::numeric, 1) AS ms, application_name AS app,
                   left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query, plan
              FROM sdp.slow_queries
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(userid)
                    OR (coalesce(query, '') !~ '\msdp\.'
                    AND application_name NOT LIKE 'smart_dairy_perf%'))
             ORDER BY queryid, duration_ms DESC) x
         ORDER BY ms DESC LIMIT 5
    $q$, 'no execution slower than smart_dairy_perf.slow_query_ms');
    -- the shapes of one loop side by side, with the parent's rows and the
    -- framework's tags that name the code
    out := out || sdp._report_section(fmt, 'N+1 query patterns', $q$
        SELECT kind, occurrences AS bursts, avg_repeats, avg_parent_rows AS parent_rows,
               CASE WHEN cardinality(loop_queryids) > 1
                    THEN format('%s of %s', loop_position, cardinality(loop_queryids)) ELSE '-' END AS in_loop,
               round(total_exec_ms::numeric, 1) AS burst_ms,
               left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS repeated,
               left(regexp_replace(coalesce(parent_query, '-'), '\s+', ' ', 'g'), 60) AS after,
               coalesce((SELECT string_agg(k || '=' || v, ', ') FROM jsonb_each_text(tags) AS t(k, v)), '-') AS tags,
               suggestion
          FROM sdp.n_plus_one
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (sdp._report_own_statements() OR origin = 'application')
         ORDER BY total_exec_ms DESC, loop_id, loop_position
    $q$, 'no N+1 pattern seen');
    out := out || sdp._report_section(fmt, 'Recommended indexes', $q$
        SELECT "table"::text AS "table", columns, improvement_pct, calls, total_exec_ms, ddl
          FROM sdp._recommend_indexes(10, current_setting('search_path'))
    $q$, 'no index would make the workload faster');
    -- how much of the workload that advice covers (the run just above)
    out := out || sdp._report_section(fmt, 'Index advisor coverage', $q$
        SELECT c.reason AS outcome, c.statements, round(c.time_pct::numeric, 1) AS pct_of_time
          FROM sdp._advisor_last_coverage() c
    $q$, 'no statement profiled in this database');
    out := out || sdp._report_section(fmt, 'Indexes to review', $q$
        SELECT 'unused' AS kind, table_name, index_name, size, drop_ddl AS ddl FROM sdp.unused_indexes
        UNION ALL SELECT 'duplicate', table_name, index_name, size, drop_ddl FROM sdp.duplicate_indexes
        UNION ALL SELECT 'redundant', table_name, index_name, size, drop_ddl FROM sdp.redundant_indexes
        UNION ALL SELECT 'invalid', table_name, index_name, size, fix_ddl FROM sdp.invalid_indexes
        UNION ALL SELECT 'foreign key without index', table_name, constraint_name, NULL, create_ddl
                    FROM sdp.foreign_keys_without_index
    $q$);
    out := out || sdp._report_section(fmt, 'Partitions of managed tables', $q$
        SELECT p.parent::text AS parent, count(*) FILTER (WHERE NOT p.is_default) AS partitions,
               min(p.range_from) AS oldest_from, max(p.range_to) AS newest_to,
               sum(p.row_estimate) FILTER (WHERE p.is_default) AS rows_in_default
          FROM sdp.partitions p WHERE p.managed GROUP BY p.parent ORDER BY 1
    $q$, 'no table is managed by the partition manager');
    out := out || sdp._report_section(fmt, 'Materialized views', $q$
        SELECT matview::text AS matview, refresh_every::text, concurrent_mode, last_refresh::text,
               staleness::text, size, last_status
          FROM sdp.matviews
    $q$, 'no materialized view is registered');
    out := out || sdp._report_section(fmt, 'Largest tables and vacuum state', $q$
        SELECT s.table_name, s.row_estimate AS rows, s.total_size, v.dead_rows, v.dead_pct,
               date_trunc('second', v.vacuum_age)::text AS vacuum_age
          FROM sdp.table_sizes s
          LEFT JOIN sdp.vacuum_health v ON v.schema_name = s.schema_name AND v.table_name = s.table_name
         WHERE s.schema_name NOT IN ('sdp') ORDER BY s.total_bytes DESC LIMIT 10
    $q$);
    IF before IS NOT NULL THEN
        out := out || sdp._report_section(fmt, format('Before and after: %s → %s', before, after), format($q$
            SELECT status, left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS query,
                   calls_before, calls_after, mean_ms_before, mean_ms_after, mean_change_pct,
                   p95_ms_before, p95_ms_after, total_ms_before, total_ms_after
              FROM sdp.compare(%L, %L) LIMIT 15
        $q$, before, after));
    END IF;

    IF fmt = 'html' THEN
        RETURN E'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            || format('<title>smart_dairy_perf report: %s</title>', sdp._html(current_database()))
            || '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}'
            || 'h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}'
            || 'table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 6px;'
            || 'text-align:left;vertical-align:top}th{background:#f4f6f8}pre{margin:0;white-space:pre-wrap;'
            || 'font-size:.9em}pre.plan{white-space:pre;overflow-x:auto;max-width:56em}.none{color:#777;font-style:italic}.charts svg{display:block;margin:1em 0}'
            || '.ct{font-weight:600;font-size:14px}.lb,.lg,.vl{font-size:11px}</style></head><body>'
            || format(E'<h1>smart_dairy_perf report: %s</h1>\n<p>%s</p>\n', sdp._html(current_database()),
                      to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ'))
            || out || E'</body></html>\n';
    ELSIF fmt = 'markdown' THEN
        RETURN format(E'# smart_dairy_perf report: %s\n\n%s\n\n', current_database(),
                      to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ')) || out;
    END IF;
    RETURN format(E'smart_dairy_perf report: %s, %s\n\n', current_database(),
                  to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ')) || out;
END
$$;

REVOKE ALL ON FUNCTION sdp.report(text, text, text) FROM PUBLIC;

-- ====================================================================
-- Issue 18, review: the configuration trigger checks the zone
-- ====================================================================
-- sdp.partition_config refuses an unknown zone, and another zone for a
-- table with range partitions
CREATE OR REPLACE FUNCTION sdp._partition_config_writer()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = OLD.parent) THEN
            PERFORM sdp._check_config_writer(OLD.parent);
        END IF;
        RETURN OLD;
    END IF;
    PERFORM sdp._check_config_writer(NEW.parent);
    -- a zone PostgreSQL knows (a bad one would fail every run of the table),
    -- and not another one for a table whose partitions were cut in its own
    PERFORM pg_catalog.now() AT TIME ZONE NEW.partition_timezone;
    IF TG_OP = 'UPDATE' AND NEW.partition_timezone IS DISTINCT FROM OLD.partition_timezone
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                     JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = NEW.parent
                      AND pg_catalog.pg_get_expr(c.relpartbound, 0) <> 'DEFAULT') THEN
        RAISE EXCEPTION 'table "%" has partitions in time zone "%"',
                        (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = NEW.parent),
                        OLD.partition_timezone
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Periods in time zone "%s" would overlap them and leave gaps.',
                                  NEW.partition_timezone),
                  HINT = format('Keep partition_timezone = %L.', OLD.partition_timezone);
    END IF;
    NEW.configured_by := current_user::regrole;
    RETURN NEW;
END
$$;
