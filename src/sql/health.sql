/* health.sql: database health views: sizes, cache hits, connections, long
 * queries, lock tree, vacuum state, table bloat.  Catalog and statistics
 * reads: sizes are the catalog's (as of the last VACUUM or ANALYZE), so
 * nothing here waits on a locked table. */

-- Pages of a table with its TOAST table, and of its indexes.
CREATE FUNCTION sdp._catalog_sizes(rel oid, OUT table_bytes bigint, OUT index_bytes bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT (c.relpages + coalesce(t.relpages, 0))::bigint * current_setting('block_size')::bigint,
       coalesce((SELECT sum(i.relpages) FROM pg_catalog.pg_index x
                   JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
                  WHERE x.indrelid = c.oid), 0)::bigint * current_setting('block_size')::bigint
  FROM pg_catalog.pg_class c
  LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid
 WHERE c.oid = rel
$$;

CREATE VIEW sdp.database_sizes AS
    SELECT d.datname AS database,
           CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT')
                THEN pg_catalog.pg_database_size(d.oid) END AS size_bytes,
           CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT')
                THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.oid)) END AS size
      FROM pg_catalog.pg_database d
     WHERE d.datallowconn
     ORDER BY 2 DESC NULLS LAST, 1;

CREATE VIEW sdp.table_sizes AS
    SELECT n.nspname AS schema_name, c.relname AS table_name,
           greatest(c.reltuples, 0)::bigint AS row_estimate,
           s.table_bytes, s.index_bytes, s.table_bytes + s.index_bytes AS total_bytes,
           pg_catalog.pg_size_pretty(s.table_bytes + s.index_bytes) AS total_size
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL sdp._catalog_sizes(c.oid) s
     WHERE c.relkind IN ('r', 'm')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg_temp%'
     ORDER BY total_bytes DESC, 1, 2;

CREATE VIEW sdp.cache_hit_ratio AS
    SELECT 'database' AS scope, d.datname AS name,
           round(d.blks_hit::numeric / nullif(d.blks_hit + d.blks_read, 0), 4) AS hit_ratio,
           d.blks_hit AS hits, d.blks_read AS reads
      FROM pg_catalog.pg_stat_database d
     WHERE d.datname = current_database()
    UNION ALL
    SELECT 'table', format('%I.%I', t.schemaname, t.relname),
           round((t.heap_blks_hit + coalesce(t.idx_blks_hit, 0))::numeric
                 / nullif(t.heap_blks_hit + t.heap_blks_read
                          + coalesce(t.idx_blks_hit, 0) + coalesce(t.idx_blks_read, 0), 0), 4),
           t.heap_blks_hit + coalesce(t.idx_blks_hit, 0),
           t.heap_blks_read + coalesce(t.idx_blks_read, 0)
      FROM pg_catalog.pg_statio_user_tables t
     WHERE t.heap_blks_read + coalesce(t.idx_blks_read, 0) > 0;

CREATE VIEW sdp.connections AS
    SELECT a.datname AS database, a.usename AS user_name, a.application_name,
           coalesce(a.state, 'unknown') AS state,
           count(*) AS connections,
           max(now() - a.state_change) AS longest_in_state,
           max(now() - a.xact_start) AS oldest_transaction
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type = 'client backend'
     GROUP BY 1, 2, 3, 4
     ORDER BY 5 DESC, 1, 2, 3, 4;

-- Statements running for at least a second, and sessions idle inside a
-- transaction (they hold locks and stop vacuum).  Other users' query
-- texts follow pg_stat_activity's rules (pg_read_all_stats).
CREATE VIEW sdp.long_running_queries AS
    SELECT a.pid, a.datname AS database, a.usename AS user_name, a.application_name,
           a.state, now() - a.query_start AS running_for,
           now() - a.xact_start AS transaction_age,
           a.wait_event_type, a.wait_event,
           pg_catalog.cardinality(pg_catalog.pg_blocking_pids(a.pid)) > 0 AS blocked,
           a.query
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid()
       AND ((a.state = 'active' AND now() - a.query_start >= interval '1 second')
            OR a.state LIKE 'idle in transaction%')
     ORDER BY coalesce(now() - a.xact_start, now() - a.query_start) DESC;

-- Who waits for whom: every blocked session under the session at the root
-- of its chain (one that holds locks and waits for nobody).
CREATE VIEW sdp.lock_tree AS
    WITH RECURSIVE blocked AS (
        SELECT a.pid, pg_catalog.pg_blocking_pids(a.pid) AS blocked_by
          FROM pg_catalog.pg_stat_activity a
         WHERE pg_catalog.cardinality(pg_catalog.pg_blocking_pids(a.pid)) > 0
    ), roots AS (
        SELECT DISTINCT r.pid
          FROM blocked b CROSS JOIN LATERAL unnest(b.blocked_by) r(pid)
         WHERE r.pid NOT IN (SELECT pid FROM blocked)
    ), tree AS (
        SELECT r.pid, NULL::integer[] AS blocked_by, r.pid AS root_pid, 0 AS depth,
               ARRAY[r.pid] AS path
          FROM roots r
        UNION ALL
        SELECT b.pid, b.blocked_by, t.root_pid, t.depth + 1, t.path || b.pid
          FROM tree t JOIN blocked b ON t.pid = ANY (b.blocked_by)
         WHERE b.pid <> ALL (t.path) AND t.depth < 100
    )
    -- a session waiting on several others appears once, at its deepest
    -- place (it waits behind all of them)
    SELECT t.root_pid, t.depth, t.pid, t.blocked_by,
           a.usename AS user_name, a.application_name, a.state,
           now() - coalesce(a.xact_start, a.query_start) AS transaction_age,
           a.wait_event_type, a.wait_event, a.query
      FROM (SELECT DISTINCT ON (pid) * FROM tree ORDER BY pid, depth DESC) t
      JOIN pg_catalog.pg_stat_activity a ON a.pid = t.pid
     ORDER BY t.root_pid, t.path;

COMMENT ON VIEW sdp.lock_tree IS 'blocked sessions under the session at the root of their chain';

CREATE VIEW sdp.vacuum_health AS
    SELECT s.schemaname AS schema_name, s.relname AS table_name,
           s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows,
           round(100.0 * s.n_dead_tup / nullif(s.n_live_tup + s.n_dead_tup, 0), 1) AS dead_pct,
           greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
           greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze,
           now() - greatest(s.last_vacuum, s.last_autovacuum) AS vacuum_age,
           now() - greatest(s.last_analyze, s.last_autoanalyze) AS analyze_age,
           s.n_mod_since_analyze AS changed_since_analyze,
           pg_catalog.age(c.relfrozenxid) AS xid_age,
           -- autovacuum's own trigger, with the default settings
           s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::bigint
               + current_setting('autovacuum_vacuum_scale_factor')::numeric * s.n_live_tup
               AS vacuum_due,
           s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::bigint
               + current_setting('autovacuum_analyze_scale_factor')::numeric * s.n_live_tup
               AS analyze_due
      FROM pg_catalog.pg_stat_user_tables s
      JOIN pg_catalog.pg_class c ON c.oid = s.relid
     ORDER BY s.n_dead_tup DESC, 1, 2;

-- Heap bloat, estimated from the statistics: the pages the rows would take
-- packed (tuple header, null bitmap, aligned column widths, line pointer,
-- fillfactor) against the pages the table has.  Needs ANALYZE.
CREATE VIEW sdp.table_bloat AS
    WITH widths AS (
        SELECT c.oid, n.nspname AS schema_name, c.relname AS table_name, c.reltuples,
               c.relpages,
               coalesce((SELECT (regexp_match(o, 'fillfactor=(\d+)'))[1]::int
                           FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,
               sum((1 - s.null_frac) * s.avg_width) AS data_width,
               bool_or(s.null_frac > 0) AS has_nulls,
               count(*) AS ncols,
               count(s.attname) AS with_stats
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_catalog.pg_stats s
                 ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
         WHERE c.relkind IN ('r', 'm') AND c.reltuples > 0
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         GROUP BY 1, 2, 3, 4, 5, 6
    ), estimate AS (
        SELECT w.*,
               (ceil(w.reltuples * (24 + CASE WHEN w.has_nulls THEN ceil(w.ncols / 8.0) ELSE 0 END
                                    + ceil(w.data_width / 8) * 8 + 4)
                     / ((current_setting('block_size')::int - 24) * w.fillfactor / 100.0)))::numeric
                   AS expected_pages
          FROM widths w
         WHERE w.with_stats = w.ncols
    )
    SELECT schema_name, table_name,
           relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
           greatest(relpages - expected_pages, 0)::bigint * current_setting('block_size')::bigint AS bloat_bytes,
           round(100 * greatest(relpages - expected_pages, 0) / greatest(relpages, 1)::numeric, 1) AS bloat_pct
      FROM estimate
     ORDER BY bloat_bytes DESC, 1, 2;

COMMENT ON VIEW sdp.table_bloat IS 'estimated heap bloat from planner statistics (run ANALYZE first)';

GRANT SELECT ON sdp.database_sizes, sdp.table_sizes, sdp.cache_hit_ratio,
    sdp.connections, sdp.long_running_queries, sdp.lock_tree, sdp.vacuum_health,
    sdp.table_bloat TO PUBLIC;
