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
