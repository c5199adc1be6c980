/* smart_dairy_perf--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION smart_dairy_perf" to load this file. \quit

-- All objects live in schema sdp (see the control file).  Functions are
-- SECURITY INVOKER; the C functions check privileges themselves.

------------------------------------------------------------------------
-- Query profiler
------------------------------------------------------------------------

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
    OUT last_seen timestamptz
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
           wal_fpi, wal_bytes, first_seen, last_seen
      FROM sdp.query_stats(true, false);

COMMENT ON VIEW sdp.query_totals IS
'per-query statistics over all applications, with latency percentiles';

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

------------------------------------------------------------------------
-- N+1 detection
------------------------------------------------------------------------

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
    OUT last_seen timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_n_plus_one_patterns'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- How to batch a repeated statement: its text with the first "col = $n"
-- turned into "col = ANY($n)", or the DML form that does all rows at once.
CREATE FUNCTION sdp.n_plus_one_suggestion(kind text, query text,
                                          parent_query text, nested boolean)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN query IS NULL OR query = '<insufficient privilege>' THEN NULL
    WHEN kind = 'row_by_row_dml' AND query ~* '^\s*insert' THEN
        'Insert all rows in one statement: a multi-row INSERT ... VALUES (...), (...), '
        || 'INSERT ... SELECT, or COPY'
        || CASE WHEN nested THEN ', instead of one INSERT per loop iteration in the function' ELSE '' END
    WHEN kind = 'row_by_row_dml' AND query ~* '^\s*update' THEN
        'Update all rows in one statement: UPDATE ... SET col = v.col FROM (VALUES ($1, $2), ...) AS v(key, col) '
        || 'WHERE key = v.key'
        || CASE WHEN nested THEN ', instead of one UPDATE per loop iteration in the function' ELSE '' END
    WHEN kind = 'row_by_row_dml' THEN
        'Change all rows in one statement: '
        || regexp_replace(query, '(\S+)\s*=\s*\$(\d+)', '\1 = ANY($\2)')
    ELSE
        'Fetch all rows at once: '
        || regexp_replace(query, '(\S+)\s*=\s*\$(\d+)', '\1 = ANY($\2)')
        || CASE WHEN parent_query IS NOT NULL
                THEN ' with the keys the parent query returned, or join '
                     || coalesce(substring(query from '(?i)from\s+([^\s,;()]+)'), 'the table')
                     || ' to the parent query'
                ELSE ' with all the keys' END
        || CASE WHEN nested THEN ' (the loop runs inside a function: make it one set-based statement)'
                ELSE '; in an ORM, eager-load the association (Rails includes, Django prefetch_related, '
                     || 'Hibernate JOIN FETCH)' END
END
$$;

-- One row per N+1 pattern: the repeated statement, the statement that
-- drove the loop, how often and how long, and how to batch it.
CREATE VIEW sdp.n_plus_one AS
    SELECT p.queryid, p.query, p.kind, p.parent_queryid, p.parent_query,
           p.occurrences,
           round(p.total_repeats::numeric / nullif(p.occurrences, 0), 1) AS avg_repeats,
           p.max_repeats, p.total_exec_ms, p.nested, p.application_name,
           p.first_seen, p.last_seen,
           sdp.n_plus_one_suggestion(p.kind, p.query, p.parent_query, p.nested) AS suggestion,
           p.userid, p.dbid
      FROM sdp.n_plus_one_patterns(true) p
     ORDER BY p.total_exec_ms DESC;

COMMENT ON VIEW sdp.n_plus_one IS
'N+1 query patterns: one statement repeated in a burst by one session, with its parent and a batching suggestion';

------------------------------------------------------------------------
-- Maintenance log (partition maintenance now; matview refreshes later)
------------------------------------------------------------------------

CREATE TABLE sdp.maintenance_log (
    id          bigserial PRIMARY KEY,
    started     timestamptz NOT NULL,
    finished    timestamptz NOT NULL DEFAULT clock_timestamp(),
    object      text NOT NULL,
    action      text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'error', 'skipped')),
    message     text
);
CREATE INDEX ON sdp.maintenance_log (started);
SELECT pg_catalog.pg_extension_config_dump('sdp.maintenance_log', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.maintenance_log_id_seq', '');

COMMENT ON TABLE sdp.maintenance_log IS
'one row per maintenance action: partitions created, pruned, moved rows, errors';

------------------------------------------------------------------------
-- Partition manager
------------------------------------------------------------------------

CREATE TABLE sdp.partition_config (
    parent              regclass PRIMARY KEY,
    partition_interval  interval NOT NULL,
    premake             integer NOT NULL CHECK (premake > 0),
    retention           interval CHECK (retention > interval '0'),
    retention_mode      text NOT NULL DEFAULT 'detach'
                        CHECK (retention_mode IN ('detach', 'drop')),
    created_at          timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('sdp.partition_config', '');

COMMENT ON TABLE sdp.partition_config IS
'range-partitioned tables kept by sdp.run_partition_maintenance(); edits take effect at the next run';

-- A partition bound as PostgreSQL prints it, as a timestamp in the zone the
-- boundaries are computed in (timestamptz keys) or as is (date, timestamp).
CREATE FUNCTION sdp._bound_local(bound text, keytype regtype, tz text)
RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN bound = 'MINVALUE' THEN '-infinity'::timestamp
    WHEN bound = 'MAXVALUE' THEN 'infinity'::timestamp
    WHEN keytype = 'timestamptz'::regtype
        THEN btrim(bound, '''')::timestamptz AT TIME ZONE tz
    ELSE btrim(bound, '''')::timestamp
END
$$;

-- A bound for people and for casting back: ISO, whatever the DateStyle;
-- timestamptz bounds carry the zone they were computed in.
CREATE FUNCTION sdp._bound_text(local timestamp, keytype regtype, tz text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN local = '-infinity' THEN 'MINVALUE'
    WHEN local = 'infinity' THEN 'MAXVALUE'
    WHEN keytype = 'date'::regtype THEN to_char(local, 'YYYY-MM-DD')
    WHEN keytype = 'timestamptz'::regtype
        THEN to_char(local, 'YYYY-MM-DD HH24:MI:SS') || ' ' || tz
    ELSE to_char(local, 'YYYY-MM-DD HH24:MI:SS')
END
$$;

-- Every partition of every range-partitioned table, with its bounds.  Bounds
-- hold only constants, so they are deparsed with relid 0: no lock is taken
-- on partitions that a long transaction may hold.
CREATE FUNCTION sdp._range_partitions(tz text, only_parent regclass DEFAULT NULL)
RETURNS TABLE (parent regclass, partition regclass, keytype regtype,
               is_default boolean, range_from text, range_to text,
               from_local timestamp, to_local timestamp)
LANGUAGE sql STABLE
AS $$
SELECT parent, partition, keytype, is_default,
       sdp._bound_text(from_local, keytype, tz), sdp._bound_text(to_local, keytype, tz),
       from_local, to_local
  FROM (
SELECT i.inhparent::regclass AS parent, c.oid::regclass AS partition,
       a.atttypid::regtype AS keytype,
       pg_get_expr(c.relpartbound, 0) = 'DEFAULT' AS is_default,
       sdp._bound_local(b[1], a.atttypid::regtype, tz) AS from_local,
       sdp._bound_local(b[2], a.atttypid::regtype, tz) AS to_local
  FROM pg_catalog.pg_partitioned_table pt
  JOIN pg_catalog.pg_inherits i ON i.inhparent = pt.partrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
  LEFT JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, 0),
                                 '^FOR VALUES FROM \(([^)]*)\) TO \(([^)]*)\)$') b ON true
 WHERE pt.partstrat = 'r' AND pt.partnatts = 1 AND pt.partattrs[0] <> 0
   AND (only_parent IS NULL OR pt.partrelid = only_parent)) p
$$;

CREATE VIEW sdp.partitions AS
    SELECT p.parent, p.partition, p.range_from, p.range_to,
           greatest(c.reltuples, 0)::bigint AS row_estimate,
           sz.bytes AS size_bytes,
           pg_catalog.pg_size_pretty(sz.bytes) AS size,
           p.is_default,
           cfg.parent IS NOT NULL AS managed
      FROM sdp._range_partitions(coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC')) p
      JOIN pg_catalog.pg_class c ON c.oid = p.partition
      -- sizes from the catalog (as of the last VACUUM or ANALYZE): a
      -- monitoring view must not wait behind the locks it helps to explain
      CROSS JOIN LATERAL (
          SELECT (c.relpages
                  + coalesce((SELECT t.relpages FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0)
                  + coalesce((SELECT sum(i.relpages) FROM pg_catalog.pg_index x
                                JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
                               WHERE x.indrelid = c.oid), 0))::bigint
                 * current_setting('block_size')::bigint AS bytes) sz
      LEFT JOIN sdp.partition_config cfg ON cfg.parent = p.parent
     ORDER BY p.parent::text, p.is_default, p.from_local;

COMMENT ON VIEW sdp.partitions IS
'partitions of range-partitioned tables: bounds, row estimate, size, default partition';

CREATE FUNCTION sdp.manage_partitions(
    parent regclass,
    partition_interval interval DEFAULT '1 month',
    premake integer DEFAULT 3,
    retention interval DEFAULT NULL,
    retention_mode text DEFAULT 'detach',
    start_at timestamptz DEFAULT NULL)
RETURNS TABLE (partition text, range_from text, range_to text, rows_moved bigint)
AS 'MODULE_PATHNAME', 'sdp_manage_partitions'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.create_partitions(parent regclass, up_to timestamptz DEFAULT NULL)
RETURNS TABLE (partition text, range_from text, range_to text, rows_moved bigint)
AS 'MODULE_PATHNAME', 'sdp_create_partitions'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.prune_partitions(parent regclass, dry_run boolean DEFAULT false)
RETURNS TABLE (partition text, range_from text, range_to text,
               row_estimate bigint, action text)
AS 'MODULE_PATHNAME', 'sdp_prune_partitions'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.partition_table(
    "table" regclass,
    "column" name,
    partition_interval interval DEFAULT '1 month',
    premake integer DEFAULT 3)
RETURNS TABLE (partition text, range_from text, range_to text, rows_moved bigint)
AS 'MODULE_PATHNAME', 'sdp_partition_table'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.run_partition_maintenance()
RETURNS TABLE (parent text, action text, status text, message text)
AS 'MODULE_PATHNAME', 'sdp_run_partition_maintenance'
LANGUAGE C VOLATILE;

-- Changing tables is for their owners; the functions check ownership too.
REVOKE ALL ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.create_partitions(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.prune_partitions(regclass, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.partition_table(regclass, name, interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.run_partition_maintenance() FROM PUBLIC;

-- Resetting destroys other users' data: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp.reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.reset(bigint) FROM PUBLIC;

GRANT USAGE ON SCHEMA sdp TO PUBLIC;
GRANT SELECT ON sdp.query_stats, sdp.query_totals, sdp.slow_queries,
    sdp.profiler_info, sdp.n_plus_one, sdp.partitions, sdp.partition_config,
    sdp.maintenance_log TO PUBLIC;
