/* smart_dairy_perf 1.0 -> 1.1: materialized-view refresh manager, one
 * maintenance entry point for the background worker and pg_cron, index
 * health views. */

\echo Use "ALTER EXTENSION smart_dairy_perf UPDATE TO '1.1'" to load this file. \quit

------------------------------------------------------------------------
-- Materialized views: configuration, history, dependencies
------------------------------------------------------------------------

CREATE TABLE sdp.matview_config (
    matview         regclass PRIMARY KEY,
    refresh_every   interval NOT NULL CHECK (refresh_every > interval '0'),
    concurrent_mode text NOT NULL DEFAULT 'auto'
                    CHECK (concurrent_mode IN ('auto', 'always', 'never')),
    last_refresh    timestamptz,
    -- what the base relations looked like when the last refresh started
    -- (sdp._matview_signature); NULL: unknown, refresh when due
    base_signature  text,
    registered_at   timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('sdp.matview_config', '');

COMMENT ON TABLE sdp.matview_config IS
'materialized views refreshed by sdp.refresh_matviews(); edits take effect at the next run';

CREATE TABLE sdp.matview_refresh_history (
    id          bigserial PRIMARY KEY,
    matview     text NOT NULL,
    matview_oid oid NOT NULL,
    started     timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('concurrently', 'plain')),
    rows_after  bigint,
    size_bytes  bigint,
    status      text NOT NULL CHECK (status IN ('ok', 'error')),
    error       text
);
CREATE INDEX ON sdp.matview_refresh_history (matview_oid, started);
CREATE INDEX ON sdp.matview_refresh_history (started);
SELECT pg_catalog.pg_extension_config_dump('sdp.matview_refresh_history', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.matview_refresh_history_id_seq', '');

COMMENT ON TABLE sdp.matview_refresh_history IS
'every refresh run by smart_dairy_perf, successful or failed';

-- Relations a view or materialized view reads directly: what its _RETURN
-- rule depends on.
CREATE FUNCTION sdp._relation_reads(reader regclass)
RETURNS SETOF regclass
LANGUAGE sql STABLE ROWS 5
AS $$
SELECT DISTINCT d.refobjid::regclass
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d
    ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> r.ev_class
 WHERE r.ev_class = reader AND r.rulename = '_RETURN'
$$;

-- The stored relations a materialized view's query reads, looking through
-- plain views (UNION, not UNION ALL: a cycle cannot loop).
CREATE FUNCTION sdp._matview_sources(mv regclass)
RETURNS TABLE (source regclass, relkind "char")
LANGUAGE sql STABLE ROWS 5
SET jit = off
AS $$
WITH RECURSIVE walk(rel) AS (
    SELECT s FROM sdp._relation_reads(mv) s
    UNION
    SELECT s
      FROM walk w
      JOIN pg_catalog.pg_class c ON c.oid = w.rel AND c.relkind = 'v'
     CROSS JOIN LATERAL sdp._relation_reads(w.rel) s
)
SELECT w.rel, c.relkind
  FROM walk w JOIN pg_catalog.pg_class c ON c.oid = w.rel
 WHERE c.relkind <> 'v'
$$;

-- A fingerprint of the data under a materialized view: for each stored
-- relation it reads (partitions and inheritance children included) its
-- file node and its insert/update/delete counters, committed and pending
-- in this session.  Equal fingerprints mean nothing under the view changed.
-- NULL when changes cannot be seen: counters off, a foreign table, or a
-- user-defined function in the query (it may read any table).
CREATE FUNCTION sdp._matview_signature(mv regclass)
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

-- Does the view have a unique index REFRESH ... CONCURRENTLY can use:
-- valid, immediate, btree, without predicate and on plain columns (the
-- conditions PostgreSQL itself checks).
CREATE FUNCTION sdp._matview_unique_index(mv regclass)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
SELECT EXISTS (
    SELECT 1
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_catalog.pg_am am ON am.oid = ic.relam
     WHERE i.indrelid = mv AND i.indisunique AND i.indisvalid AND i.indimmediate
       AND am.amname = 'btree' AND i.indpred IS NULL AND i.indexprs IS NULL
       AND i.indnatts > 0)
$$;

-- Can REFRESH ... CONCURRENTLY run now: populated, with such an index.
CREATE FUNCTION sdp._matview_concurrent_possible(mv regclass)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
SELECT c.relispopulated AND sdp._matview_unique_index(mv)
  FROM pg_catalog.pg_class c WHERE c.oid = mv
$$;

-- Registered views in refresh order: a view comes after every materialized
-- view it reads (through plain views too).  depth = the longest chain of
-- materialized views under it; the CYCLE clause guards the recursion
-- although PostgreSQL cannot create a cycle of views.
CREATE FUNCTION sdp._matview_refresh_order()
RETURNS TABLE (matview regclass, depth integer)
LANGUAGE sql STABLE
-- the recursion's estimates are wild: JIT would cost half a second here
SET jit = off
AS $$
WITH RECURSIVE chain(top, rel, depth) AS (
    SELECT m.matview, m.matview, 0
      FROM sdp.matview_config m
      JOIN pg_catalog.pg_class c ON c.oid = m.matview
    UNION ALL
    SELECT ch.top, s.source, ch.depth + 1
      FROM chain ch
     CROSS JOIN LATERAL sdp._matview_sources(ch.rel) s
     WHERE s.relkind = 'm' AND ch.depth < 1000
) CYCLE rel SET is_cycle USING path
SELECT top, max(depth)
  FROM chain
 GROUP BY top
 ORDER BY max(depth), top::text
$$;

CREATE VIEW sdp.matviews AS
    SELECT m.matview,
           m.refresh_every,
           m.concurrent_mode,
           sdp._matview_concurrent_possible(m.matview) AS concurrent_possible,
           c.relispopulated AS populated,
           m.last_refresh,
           coalesce(m.last_refresh + m.refresh_every, now()) AS next_due,
           -- data older than its base: time since the last refresh when
           -- something underneath changed after it, else zero
           CASE WHEN m.last_refresh IS NULL THEN NULL
                WHEN m.base_signature IS NOT DISTINCT FROM sdp._matview_signature(m.matview)
                     AND m.base_signature IS NOT NULL THEN interval '0'
                ELSE now() - m.last_refresh END AS staleness,
           -- sizes as of the last successful refresh: a monitoring view
           -- must not wait behind the lock a plain refresh holds
           ok.size_bytes,
           pg_catalog.pg_size_pretty(ok.size_bytes) AS size,
           ok.rows_after AS rows,
           h.status AS last_status,
           h.duration_ms AS last_duration_ms,
           h.error AS last_error
      FROM sdp.matview_config m
      JOIN pg_catalog.pg_class c ON c.oid = m.matview
      LEFT JOIN LATERAL (
          SELECT status, duration_ms, error
            FROM sdp.matview_refresh_history x
           WHERE x.matview_oid = m.matview
           ORDER BY x.started DESC, x.id DESC LIMIT 1) h ON true
      LEFT JOIN LATERAL (
          SELECT size_bytes, rows_after
            FROM sdp.matview_refresh_history x
           WHERE x.matview_oid = m.matview AND x.status = 'ok'
           ORDER BY x.started DESC, x.id DESC LIMIT 1) ok ON true
     ORDER BY m.matview::text;

COMMENT ON VIEW sdp.matviews IS
'registered materialized views: last refresh, next due, staleness, size, last result';

CREATE FUNCTION sdp.register_matview(
    matview regclass,
    refresh_every interval,
    "concurrently" text DEFAULT 'auto')
RETURNS void
AS 'MODULE_PATHNAME', 'sdp_register_matview'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.unregister_matview(matview regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'sdp_unregister_matview'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.refresh_matview(matview regclass)
RETURNS TABLE (mode text, rows_after bigint, duration_ms double precision)
AS 'MODULE_PATHNAME', 'sdp_refresh_matview'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp.refresh_matviews(only_due boolean DEFAULT true)
RETURNS TABLE (matview text, action text, mode text, rows_after bigint,
               duration_ms double precision, message text)
AS 'MODULE_PATHNAME', 'sdp_refresh_matviews'
LANGUAGE C VOLATILE;

------------------------------------------------------------------------
-- Maintenance: one entry point for the background worker and pg_cron
------------------------------------------------------------------------

CREATE FUNCTION sdp.run_maintenance()
RETURNS TABLE (step text, status text, message text, duration_ms double precision)
AS 'MODULE_PATHNAME', 'sdp_run_maintenance'
LANGUAGE C VOLATILE;

CREATE FUNCTION sdp._maintenance_workers()
RETURNS TABLE (database text, pid integer, last_run_started timestamptz,
               last_run_finished timestamptz, next_run timestamptz, last_status text)
AS 'MODULE_PATHNAME', 'sdp_maintenance_workers'
LANGUAGE C VOLATILE;

CREATE VIEW sdp.maintenance_workers AS
    SELECT * FROM sdp._maintenance_workers();

COMMENT ON VIEW sdp.maintenance_workers IS
'the background maintenance workers of this server, one per database in smart_dairy_perf.maintenance_databases';

-- pg_cron glue.  The job runs as the role that schedules it, in this
-- database; pg_cron must be installed here (cron.database_name).
CREATE FUNCTION sdp._require_pg_cron(hint text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF to_regnamespace('cron') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'undefined_object', HINT = hint;
    END IF;
END
$$;

CREATE FUNCTION sdp.schedule_maintenance(schedule text DEFAULT '*/5 * * * *')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    job bigint;
BEGIN
    PERFORM sdp._require_pg_cron('Add pg_cron to shared_preload_libraries, set cron.database_name = '''
        || current_database() || ''', restart, and run CREATE EXTENSION pg_cron; '
        || 'or let the background worker run maintenance (smart_dairy_perf.maintenance_databases).');
    IF schedule IS NULL OR btrim(schedule) = '' THEN
        RAISE EXCEPTION 'schedule must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a cron expression such as ''*/5 * * * *''.';
    END IF;
    -- a named job: scheduling again replaces the schedule
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
       INTO job
      USING 'smart_dairy_perf maintenance', schedule,
            'SELECT * FROM sdp.run_maintenance()';
    RETURN job;
END
$$;

CREATE FUNCTION sdp.unschedule_maintenance()
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    removed boolean;
BEGIN
    PERFORM sdp._require_pg_cron('Nothing is scheduled through pg_cron here; the background worker '
        || 'is configured with smart_dairy_perf.maintenance_databases.');
    IF NOT EXISTS (SELECT 1 FROM cron.job
                    WHERE jobname = 'smart_dairy_perf maintenance' AND username = current_user) THEN
        RAISE EXCEPTION 'no smart_dairy_perf maintenance job is scheduled for role "%"', current_user
            USING ERRCODE = 'undefined_object',
                  HINT = 'Schedule it with sdp.schedule_maintenance(); jobs are per role.';
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING 'smart_dairy_perf maintenance';
    RETURN removed;
END
$$;

------------------------------------------------------------------------
-- Index health: unused, duplicate, redundant and invalid indexes, btree
-- bloat estimates, foreign keys without an index.  Catalog and statistics
-- reads only: no relation is locked, so the views answer during DDL.
------------------------------------------------------------------------

-- An index or table and, when it is partitioned, every partition below it
-- (from pg_inherits: pg_partition_tree would lock them all).
CREATE FUNCTION sdp._leaves(rel oid)
RETURNS SETOF oid
LANGUAGE sql STABLE
AS $$
WITH RECURSIVE tree(oid) AS (
    SELECT rel
    UNION
    SELECT i.inhrelid FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.oid
)
SELECT tree.oid FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid
 WHERE c.relkind NOT IN ('p', 'I')
$$;

-- Every index of a user table, with what decides its fate.  A partitioned
-- index counts the scans and pages of its partitions' indexes; those
-- (is_partition) cannot be dropped alone and are judged through it.
CREATE VIEW sdp._user_indexes AS
    SELECT i.indexrelid, i.indrelid, n.nspname AS schema_name, t.relname AS table_name,
           c.relname AS index_name, am.amname, c.relkind, c.relispartition AS is_partition,
           i.indisunique, i.indisprimary,
           i.indisexclusion, i.indisreplident, i.indisvalid, i.indisready,
           i.indnkeyatts, i.indnatts,
           (i.indkey::int2[])[0:i.indnkeyatts - 1] AS key_cols,
           (i.indclass::oid[])[0:i.indnkeyatts - 1] AS key_opclasses,
           (i.indcollation::oid[])[0:i.indnkeyatts - 1] AS key_collations,
           (i.indoption::int2[])[0:i.indnkeyatts - 1] AS key_options,
           pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS expressions,
           pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
           i.indkey::int2[] AS all_cols,
           EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid
                      AND k.contype IN ('p', 'u', 'x')) AS backs_constraint,
           leaves.pages * current_setting('block_size')::bigint AS size_bytes,
           leaves.scans AS idx_scan,
           pg_catalog.pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_catalog.pg_am am ON am.oid = c.relam
     CROSS JOIN LATERAL (
          SELECT coalesce(sum(lc.relpages), 0)::bigint AS pages,
                 coalesce(sum(pg_catalog.pg_stat_get_numscans(l)), 0)::bigint AS scans
            FROM sdp._leaves(i.indexrelid) l JOIN pg_catalog.pg_class lc ON lc.oid = l) leaves
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
       AND c.relkind IN ('i', 'I');

-- How old the statistics are: since the last reset of this database's
-- counters, or since the server started when they were never reset.
CREATE FUNCTION sdp._stats_age()
RETURNS interval
LANGUAGE sql STABLE
AS $$
SELECT now() - coalesce(d.stats_reset, pg_catalog.pg_postmaster_start_time())
  FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database()
$$;

CREATE VIEW sdp.unused_indexes AS
    SELECT ui.schema_name, ui.table_name, ui.index_name,
           ui.size_bytes, pg_catalog.pg_size_pretty(ui.size_bytes) AS size,
           ui.idx_scan,
           w.writes AS table_writes,
           round(w.writes / greatest(extract(epoch FROM sdp._stats_age()) / 86400, 1 / 24.0)) AS table_writes_per_day,
           sdp._stats_age() AS stats_age,
           CASE WHEN sdp._stats_age() < interval '7 days'
                THEN 'statistics are only ' || date_trunc('second', sdp._stats_age())
                     || ' old: wait for a full business cycle (at least a week, a month-end) before dropping'
           END AS warning,
           ui.definition,
           -- a partitioned index cannot be dropped concurrently
           format(CASE WHEN ui.relkind = 'I' THEN 'DROP INDEX %I.%I;'
                       ELSE 'DROP INDEX CONCURRENTLY %I.%I;' END,
                  ui.schema_name, ui.index_name) AS drop_ddl
      FROM sdp._user_indexes ui
     CROSS JOIN LATERAL (
          SELECT coalesce(sum(pg_catalog.pg_stat_get_tuples_inserted(l)
                              + pg_catalog.pg_stat_get_tuples_updated(l)
                              + pg_catalog.pg_stat_get_tuples_deleted(l)), 0)::bigint AS writes
            FROM sdp._leaves(ui.indrelid) l) w
     WHERE ui.idx_scan = 0 AND NOT ui.is_partition
       AND NOT ui.indisunique AND NOT ui.indisprimary AND NOT ui.indisexclusion
       AND NOT ui.backs_constraint AND NOT ui.indisreplident
       AND ui.indisvalid
     ORDER BY ui.size_bytes DESC, 1, 2, 3;

COMMENT ON VIEW sdp.unused_indexes IS
'indexes never scanned since the statistics were reset, that enforce nothing: candidates to drop';

-- Same table, access method, key and INCLUDE columns, operator classes,
-- collations, options, expressions and predicate: one index is enough.
-- The one kept: a constraint's index first, then a unique one, then the
-- oldest (lowest OID).
CREATE VIEW sdp.duplicate_indexes AS
    WITH ranked AS (
        SELECT ui.*,
               row_number() OVER w AS rank,
               first_value(ui.index_name) OVER w AS kept,
               count(*) OVER (PARTITION BY ui.indrelid, ui.amname, ui.all_cols, ui.key_opclasses,
                                           ui.key_collations, ui.key_options, ui.expressions,
                                           ui.predicate) AS copies
          FROM sdp._user_indexes ui
         WHERE NOT ui.is_partition
        WINDOW w AS (PARTITION BY ui.indrelid, ui.amname, ui.all_cols, ui.key_opclasses,
                                  ui.key_collations, ui.key_options, ui.expressions, ui.predicate
                     ORDER BY ui.backs_constraint DESC, ui.indisunique DESC, ui.indexrelid)
    )
    SELECT schema_name, table_name, index_name, kept AS duplicate_of,
           size_bytes, pg_catalog.pg_size_pretty(size_bytes) AS size, definition,
           CASE WHEN backs_constraint
                THEN format('-- %I backs a constraint: drop the constraint or keep both', index_name)
                ELSE format(CASE WHEN relkind = 'I' THEN 'DROP INDEX %I.%I;'
                                 ELSE 'DROP INDEX CONCURRENTLY %I.%I;' END,
                            schema_name, index_name) END AS drop_ddl
      FROM ranked
     WHERE copies > 1 AND rank > 1
     ORDER BY 1, 2, 3;

COMMENT ON VIEW sdp.duplicate_indexes IS
'indexes with the same definition as another index of the table';

-- An index whose key columns are a leading part of another index's keys
-- (same access method, operator classes, collations, order options,
-- expressions and predicate), that enforces nothing and has no INCLUDE
-- columns: every query it serves, the longer index serves too.
CREATE VIEW sdp.redundant_indexes AS
    SELECT a.schema_name, a.table_name, a.index_name, b.index_name AS covered_by,
           a.size_bytes, pg_catalog.pg_size_pretty(a.size_bytes) AS size,
           a.definition, b.definition AS covered_by_definition,
           format(CASE WHEN a.relkind = 'I' THEN 'DROP INDEX %I.%I;'
                       ELSE 'DROP INDEX CONCURRENTLY %I.%I;' END,
                  a.schema_name, a.index_name) AS drop_ddl
      FROM sdp._user_indexes a
      JOIN sdp._user_indexes b
        ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid AND b.amname = a.amname
       AND b.indnkeyatts > a.indnkeyatts
       AND b.key_cols[1:a.indnkeyatts] = a.key_cols
       AND b.key_opclasses[1:a.indnkeyatts] = a.key_opclasses
       AND b.key_collations[1:a.indnkeyatts] = a.key_collations
       AND b.key_options[1:a.indnkeyatts] = a.key_options
       AND b.expressions IS NOT DISTINCT FROM a.expressions
       AND b.predicate IS NOT DISTINCT FROM a.predicate
       AND b.indisvalid
     WHERE a.amname = 'btree' AND a.indnatts = a.indnkeyatts AND NOT a.is_partition
       AND NOT a.indisunique AND NOT a.backs_constraint AND NOT a.indisreplident
     ORDER BY 1, 2, 3, 4;

COMMENT ON VIEW sdp.redundant_indexes IS
'indexes whose keys are a leading part of another index of the same kind';

-- Invalid indexes (a failed CREATE INDEX CONCURRENTLY or REINDEX) that no
-- running command is building: they cost writes and serve no query.
CREATE VIEW sdp.invalid_indexes AS
    SELECT ui.schema_name, ui.table_name, ui.index_name,
           ui.size_bytes, pg_catalog.pg_size_pretty(ui.size_bytes) AS size,
           ui.indisready AS still_maintained, ui.definition,
           format('DROP INDEX CONCURRENTLY %I.%I; -- then create it again, or: REINDEX INDEX CONCURRENTLY %I.%I;',
                  ui.schema_name, ui.index_name, ui.schema_name, ui.index_name) AS fix_ddl
      FROM sdp._user_indexes ui
     WHERE NOT ui.indisvalid AND ui.relkind = 'i'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p
                        WHERE p.index_relid = ui.indexrelid)
     ORDER BY 1, 2, 3;

COMMENT ON VIEW sdp.invalid_indexes IS
'invalid indexes not being built: left by failed concurrent builds';

-- btree bloat, estimated from the statistics: the pages the index would
-- need freshly built (tuples x (header + aligned key widths + line
-- pointer), at its fillfactor) against the pages it has.  Needs ANALYZE;
-- an index whose columns have no statistics is left out.
CREATE VIEW sdp.index_bloat AS
    WITH keys AS (
        SELECT ui.indexrelid, ui.schema_name, ui.table_name, ui.index_name,
               ic.reltuples, ic.relpages,
               coalesce((SELECT (regexp_match(o, 'fillfactor=(\d+)'))[1]::int
                           FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) AS fillfactor,
               sum(coalesce(s.avg_width, 0) * (1 - coalesce(s.null_frac, 0))) AS data_width,
               count(*) FILTER (WHERE s.avg_width IS NULL) AS without_stats,
               bool_or(coalesce(s.null_frac, 0) > 0) AS has_nulls,
               count(*) AS ncols
          FROM sdp._user_indexes ui
          JOIN pg_catalog.pg_class ic ON ic.oid = ui.indexrelid
          CROSS JOIN LATERAL unnest(ui.all_cols) WITH ORDINALITY AS k(attnum, pos)
          LEFT JOIN pg_catalog.pg_attribute ta ON ta.attrelid = ui.indrelid AND ta.attnum = k.attnum AND k.attnum > 0
          LEFT JOIN pg_catalog.pg_attribute ia ON ia.attrelid = ui.indexrelid AND ia.attnum = k.pos
          LEFT JOIN pg_catalog.pg_stats s
                 ON s.schemaname = ui.schema_name
                AND ((k.attnum > 0 AND s.tablename = ui.table_name AND s.attname = ta.attname)
                  OR (k.attnum = 0 AND s.tablename = ui.index_name AND s.attname = ia.attname))
         WHERE ui.amname = 'btree' AND ui.indisvalid AND ui.relkind = 'i'
         GROUP BY 1, 2, 3, 4, 5, 6, 7
    ), estimate AS (
        SELECT k.*,
               -- index tuple: 8-byte header (+ null bitmap), data MAXALIGNed,
               -- 4-byte line pointer; page: 24-byte header, 16-byte special
               (ceil(k.reltuples * (8 + CASE WHEN k.has_nulls THEN 8 ELSE 0 END
                                    + ceil(k.data_width / 8) * 8 + 4)
                     / ((current_setting('block_size')::int - 24 - 16) * k.fillfactor / 100.0))
                + 1)::numeric AS expected_pages
          FROM keys k
         WHERE k.without_stats = 0 AND k.reltuples > 0
    )
    SELECT schema_name, table_name, index_name,
           relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
           pg_catalog.pg_size_pretty(relpages::bigint * current_setting('block_size')::bigint) AS size,
           greatest(relpages - expected_pages, 0)::bigint * current_setting('block_size')::bigint AS bloat_bytes,
           round(100 * greatest(relpages - expected_pages, 0) / greatest(relpages, 1)::numeric, 1) AS bloat_pct,
           CASE WHEN relpages - expected_pages > 0.3 * relpages AND relpages > 128
                THEN format('REINDEX INDEX CONCURRENTLY %I.%I;', schema_name, index_name) END AS fix_ddl
      FROM estimate
     ORDER BY bloat_bytes DESC, 1, 2, 3;

COMMENT ON VIEW sdp.index_bloat IS
'estimated btree bloat from planner statistics (run ANALYZE first)';

-- Foreign keys whose referencing columns lead no index: every DELETE or
-- key UPDATE on the referenced table scans the referencing table, and
-- joins from parent to children have no index to use.
CREATE VIEW sdp.foreign_keys_without_index AS
    SELECT n.nspname AS schema_name, t.relname AS table_name, k.conname AS constraint_name,
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord)
              FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
           k.confrelid::regclass AS referenced_table,
           t.reltuples::bigint AS table_rows,
           coalesce(rs.n_tup_upd + rs.n_tup_del, 0) AS referenced_updates_deletes,
           -- CONCURRENTLY is not possible on a partitioned table
           format(CASE WHEN t.relkind = 'p'
                       THEN 'CREATE INDEX ON %I.%I (%s); -- partitioned: blocks writes while it builds'
                       ELSE 'CREATE INDEX CONCURRENTLY ON %I.%I (%s);' END,
                  n.nspname, t.relname,
                  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord)
                     FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum)) AS create_ddl
      FROM pg_catalog.pg_constraint k
      JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      LEFT JOIN pg_catalog.pg_stat_user_tables rs ON rs.relid = k.confrelid
     WHERE k.contype = 'f' AND t.relkind IN ('r', 'p')
       AND k.conparentid = 0   -- a partition's copy of its parent's key is the parent's
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       -- an index (valid, no predicate) whose first columns are the key's
       -- columns, in any order, serves the lookups
       AND NOT EXISTS (
           SELECT 1 FROM pg_catalog.pg_index i
            WHERE i.indrelid = k.conrelid AND i.indpred IS NULL AND i.indisvalid
              AND i.indnkeyatts >= cardinality(k.conkey)
              AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] @> k.conkey
              AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] <@ k.conkey)
     ORDER BY 1, 2, 3;

COMMENT ON VIEW sdp.foreign_keys_without_index IS
'foreign keys with no index leading with their columns, and the index to create';

------------------------------------------------------------------------
-- Database health: sizes, cache hits, connections, long queries, lock
-- tree, vacuum state, table bloat.  Catalog and statistics reads: sizes are
-- the catalog's (as of the last VACUUM or ANALYZE), so nothing here waits
-- on a locked table.
------------------------------------------------------------------------

-- Pages of a table with its TOAST table, and of its indexes.
CREATE FUNCTION sdp._catalog_sizes(rel oid, OUT table_bytes bigint, OUT index_bytes bigint)
LANGUAGE sql STABLE
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

COMMENT ON VIEW sdp.lock_tree IS 'blocked sessions under the session at the root of their chain';
COMMENT ON VIEW sdp.table_bloat IS 'estimated heap bloat from planner statistics (run ANALYZE first)';

------------------------------------------------------------------------
-- Snapshots: the profiler's statistics kept under a label, and the
-- before/after comparison the platform's plans report by hand
------------------------------------------------------------------------

CREATE TABLE sdp.snapshots (
    id          bigserial PRIMARY KEY,
    label       text NOT NULL UNIQUE,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    -- statistics are cumulative since this reset
    stats_reset timestamptz,
    automatic   boolean NOT NULL DEFAULT false
);
CREATE TABLE sdp.snapshot_queries (
    snapshot_id     bigint NOT NULL REFERENCES sdp.snapshots ON DELETE CASCADE,
    dbid            oid NOT NULL,
    queryid         bigint NOT NULL,
    query           text,
    calls           bigint NOT NULL,
    total_exec_ms   double precision NOT NULL,
    mean_exec_ms    double precision NOT NULL,
    p95_exec_ms     double precision,
    p99_exec_ms     double precision,
    rows            bigint NOT NULL,
    PRIMARY KEY (snapshot_id, dbid, queryid)
);
SELECT pg_catalog.pg_extension_config_dump('sdp.snapshots', 'WHERE NOT automatic');
SELECT pg_catalog.pg_extension_config_dump('sdp.snapshots_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.snapshot_queries', '');

COMMENT ON TABLE sdp.snapshots IS
'labelled copies of the query statistics: sdp.snapshot(label), compared with sdp.compare(before, after)';

-- Keep the statistics now, all users and applications added up per query.
-- Percentiles of a query across applications: the highest of them (an
-- upper bound; per application they are in sdp.query_stats).
CREATE FUNCTION sdp.snapshot(label text, automatic boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
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

CREATE FUNCTION sdp._snapshot_id(label text)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    snap bigint;
BEGIN
    SELECT s.id INTO snap FROM sdp.snapshots s WHERE s.label = _snapshot_id.label;
    IF snap IS NULL THEN
        RAISE EXCEPTION 'no snapshot labelled "%"', label
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT label, taken_at FROM sdp.snapshots lists them.';
    END IF;
    RETURN snap;
END
$$;

-- Per query of this database, and a first row for the whole workload:
-- calls, mean, p95 and total time in each snapshot and the change in
-- percent; queries only in the second are 'new', only in the first
-- 'vanished'.  When the second snapshot continues the first (same
-- statistics reset), its calls and times are the difference: what ran in
-- between (percentiles stay those of each snapshot: a histogram is not
-- kept).
CREATE FUNCTION sdp.compare(before text, after text)
RETURNS TABLE (status text, queryid bigint, query text,
               calls_before bigint, calls_after bigint,
               mean_ms_before numeric, mean_ms_after numeric, mean_change_pct numeric,
               p95_ms_before numeric, p95_ms_after numeric, p95_change_pct numeric,
               total_ms_before numeric, total_ms_after numeric, total_change_pct numeric)
LANGUAGE sql STABLE
AS $$
WITH b AS (SELECT sdp._snapshot_id(before) AS id), a AS (SELECT sdp._snapshot_id(after) AS id),
cont AS (
    -- the later snapshot counts on from the earlier one
    SELECT sb.stats_reset IS NOT DISTINCT FROM sa.stats_reset AND sa.taken_at > sb.taken_at AS yes
      FROM sdp.snapshots sb, sdp.snapshots sa, a, b WHERE sb.id = b.id AND sa.id = a.id
),
qb AS (SELECT q.* FROM sdp.snapshot_queries q, b WHERE q.snapshot_id = b.id
        AND q.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())),
qa0 AS (SELECT q.* FROM sdp.snapshot_queries q, a WHERE q.snapshot_id = a.id
         AND q.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())),
qa AS (
    SELECT x.queryid, x.query,
           x.calls - CASE WHEN (SELECT yes FROM cont) THEN coalesce(y.calls, 0) ELSE 0 END AS calls,
           x.total_exec_ms - CASE WHEN (SELECT yes FROM cont) THEN coalesce(y.total_exec_ms, 0) ELSE 0 END AS total_exec_ms,
           x.p95_exec_ms
      FROM qa0 x LEFT JOIN qb y USING (queryid)
),
pairs AS (
    SELECT coalesce(qa.queryid, qb.queryid) AS queryid, coalesce(qa.query, qb.query) AS query,
           qb.calls AS cb, nullif(qa.calls, 0) AS ca,
           qb.total_exec_ms AS tb, CASE WHEN qa.calls > 0 THEN qa.total_exec_ms END AS ta,
           qb.p95_exec_ms AS pb, CASE WHEN qa.calls > 0 THEN qa.p95_exec_ms END AS pa
      FROM qa FULL JOIN qb USING (queryid)
),
rows AS (
    SELECT CASE WHEN cb IS NULL THEN 'new' WHEN ca IS NULL THEN 'vanished' ELSE 'changed' END AS status,
           queryid, query, cb, ca, tb / nullif(cb, 0) AS mb, ta / nullif(ca, 0) AS ma, pb, pa, tb, ta
      FROM pairs
),
total AS (
    SELECT 'workload'::text, NULL::bigint, 'all queries'::text,
           sum(cb)::bigint, sum(ca)::bigint,
           sum(tb) / nullif(sum(cb), 0), sum(ta) / nullif(sum(ca), 0),
           NULL::double precision, NULL::double precision, sum(tb), sum(ta)
      FROM rows
)
SELECT s, qid, q, cb, ca, round(mb::numeric, 3), round(ma::numeric, 3),
       round((100 * (ma - mb) / nullif(mb, 0))::numeric, 1),
       round(pb::numeric, 3), round(pa::numeric, 3),
       round((100 * (pa - pb) / nullif(pb, 0))::numeric, 1),
       round(tb::numeric, 1), round(ta::numeric, 1),
       round((100 * (ta - tb) / nullif(tb, 0))::numeric, 1)
  FROM (SELECT * FROM total
        UNION ALL
        SELECT * FROM rows) r(s, qid, q, cb, ca, mb, ma, pb, pa, tb, ta)
 ORDER BY s <> 'workload', coalesce(tb, 0) + coalesce(ta, 0) DESC, qid
$$;

REVOKE ALL ON FUNCTION sdp.snapshot(text, boolean) FROM PUBLIC;

------------------------------------------------------------------------
-- Prometheus exposition
------------------------------------------------------------------------

CREATE FUNCTION sdp._query_histograms()
RETURNS TABLE (dbid oid, queryid bigint, le_ms double precision, count bigint)
AS 'MODULE_PATHNAME', 'sdp_query_histograms'
LANGUAGE C VOLATILE;

-- A label value in the exposition format: backslash, quote, newline escaped.
CREATE FUNCTION sdp._prom_label(v text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
SELECT '"' || replace(replace(replace(coalesce(v, ''), E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') || '"'
$$;

-- One metric family: HELP and TYPE lines, then its samples.
CREATE FUNCTION sdp._prom_family(name text, kind text, help text, samples text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
SELECT format(E'# HELP %s %s\n# TYPE %s %s\n', name, help, name, kind) || coalesce(samples, '')
$$;

-- The Prometheus text format (version 0.0.4) for this database: the top
-- queries by total time (calls, latency histogram), N+1 patterns,
-- partitions ahead per managed table, materialized-view staleness, cache
-- hits, connections, and the profiler's own state.  Serve it with any
-- exporter that runs a query (postgres_exporter, sql_exporter) or a cron
-- job writing a node_exporter textfile.
CREATE FUNCTION sdp.metrics(top integer DEFAULT 20)
RETURNS text
LANGUAGE sql VOLATILE
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
  || sdp._prom_family('sdp_profiler_entries', 'gauge',
      'Statement statistics entries held in shared memory.',
      (SELECT format(E'sdp_profiler_entries %s\n', i.entries) FROM sdp.profiler_info i))
  || sdp._prom_family('sdp_profiler_evictions_total', 'counter',
      'Entries evicted to make room since the last full reset.',
      (SELECT format(E'sdp_profiler_evictions_total %s\n', i.evictions) FROM sdp.profiler_info i))
$$;


------------------------------------------------------------------------
-- The performance report: text, markdown or one self-contained HTML file
------------------------------------------------------------------------

CREATE FUNCTION sdp._html(v text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
SELECT replace(replace(replace(replace(coalesce(v, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')
$$;

-- One section: the rows of query rendered as a table in the format, or a
-- line saying there is nothing to report.  Column order is the query's.
CREATE FUNCTION sdp._report_section(fmt text, title text, query text, empty text DEFAULT 'nothing to report')
RETURNS text
LANGUAGE plpgsql VOLATILE
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
    IF fmt = 'html' THEN
        out := format(E'<h2>%s</h2>\n<table>\n<tr>', sdp._html(title))
            || (SELECT string_agg('<th>' || sdp._html(c) || '</th>', '') FROM unnest(cols) c) || E'</tr>\n';
        FOR r IN SELECT * FROM json_array_elements(rows) LOOP
            out := out || '<tr>' || (SELECT string_agg(
                       CASE WHEN c IN ('plan', 'suggestion', 'ddl', 'query', 'sample_query')
                            THEN '<td><pre>' || sdp._html(r ->> c) || '</pre></td>'
                            ELSE '<td>' || sdp._html(r ->> c) || '</td>' END, '' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o)) || E'</tr>\n';
        END LOOP;
        RETURN out || E'</table>\n';
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
                     FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion')) || E'\n';
    FOR r IN SELECT * FROM json_array_elements(rows) LOOP
        line := (SELECT string_agg(rpad(left(regexp_replace(coalesce(r ->> c, ''), '\s+', ' ', 'g'), 60), widths[o]),
                                   '  ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion'));
        out := out || rtrim(line) || E'\n';
        FOR i IN SELECT o FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c IN ('plan', 'suggestion') LOOP
            IF r ->> cols[i] IS NOT NULL THEN
                out := out || regexp_replace(r ->> cols[i], '^', '    ', 'gn') || E'\n';
            END IF;
        END LOOP;
    END LOOP;
    RETURN out || E'\n';
END
$$;

-- Inline SVG bar charts for the HTML report.
CREATE FUNCTION sdp._svg_bars(title text, labels text[], series text[], vals double precision[][], unit text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
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
    vmax double precision := 0;
    svg text;
    y int;
BEGIN
    IF n = 0 THEN RETURN ''; END IF;
    row_h := bar * k + 10;
    SELECT max(v) INTO vmax FROM unnest(vals) v;
    vmax := greatest(coalesce(vmax, 0), 1e-9);
    svg := format('<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%s" height="%s" viewBox="0 0 %s %s">',
                  left_x + chart_w + 90, top_y + n * row_h + 30, left_x + chart_w + 90, top_y + n * row_h + 30)
        || format('<title>%s</title><text x="0" y="16" class="ct">%s</text>', sdp._html(title), sdp._html(title));
    FOR s IN 1..k LOOP
        svg := svg || format('<rect x="%s" y="24" width="10" height="10" fill="%s"/><text x="%s" y="33" class="lg">%s</text>',
                             left_x + (s - 1) * 90, colors[s], left_x + (s - 1) * 90 + 14, sdp._html(series[s]));
    END LOOP;
    FOR i IN 1..n LOOP
        y := top_y + (i - 1) * row_h;
        svg := svg || format('<text x="%s" y="%s" class="lb" text-anchor="end">%s</text>', left_x - 6,
                             y + row_h / 2 + 3, sdp._html(left(labels[i], 48)));
        FOR s IN 1..k LOOP
            svg := svg || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s %s</title></rect>'
                                 || '<text x="%s" y="%s" class="vl">%s</text>',
                                 left_x, y + (s - 1) * bar, round((chart_w * coalesce(vals[i][s], 0) / vmax)::numeric, 1),
                                 bar - 2, colors[s], sdp._html(series[s]), round(coalesce(vals[i][s], 0)::numeric, 3), unit,
                                 left_x + round((chart_w * coalesce(vals[i][s], 0) / vmax)::numeric) + 4, y + (s - 1) * bar + bar - 3,
                                 round(coalesce(vals[i][s], 0)::numeric, 2) || ' ' || unit);
        END LOOP;
    END LOOP;
    RETURN svg || '</svg>';
END
$$;

-- The report: summary, top queries, slow queries with plans, N+1, index
-- advice and health, partitions, materialized views, health, and the
-- comparison of two snapshots when given.  format: text, markdown, html.
CREATE FUNCTION sdp.report(format text DEFAULT 'text', before text DEFAULT NULL, after text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
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
               (SELECT count(*) FROM sdp.recommend_indexes()) AS indexes_recommended,
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
                   AND t.query IS NOT NULL AND t.query !~ '\msdp\.'
                 ORDER BY t.total_exec_time DESC LIMIT 8) x;
        charts := sdp._svg_bars('Latency percentiles of the top queries', labels,
                                ARRAY['p50', 'p95', 'p99'], vals, 'ms');
        SELECT array_agg(left(regexp_replace(query, '\s+', ' ', 'g'), 48) ORDER BY total_exec_time DESC),
               array_agg(ARRAY[total_exec_time / 1000] ORDER BY total_exec_time DESC)
          INTO labels, vals
          FROM (SELECT * FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND t.query IS NOT NULL AND t.query !~ '\msdp\.'
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
           AND coalesce(t.query, '') !~ '\msdp\.'   -- not the extension's own calls
         ORDER BY total_exec_time DESC LIMIT 10
    $q$, 'no statements profiled yet');
    out := out || sdp._report_section(fmt, 'Slow queries (slowest execution per shape)', $q$
        SELECT at, ms, app, query, plan FROM (
            SELECT DISTINCT ON (queryid) to_char(executed_at, 'YYYY-MM-DD HH24:MI:SS') AS at,
                   round(duration_ms::numeric, 1) AS ms, application_name AS app,
                   left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query, plan
              FROM sdp.slow_queries ORDER BY queryid, duration_ms DESC) x
         ORDER BY ms DESC LIMIT 5
    $q$, 'no execution slower than smart_dairy_perf.slow_query_ms');
    out := out || sdp._report_section(fmt, 'N+1 query patterns', $q$
        SELECT kind, occurrences AS bursts, avg_repeats, round(total_exec_ms::numeric, 1) AS burst_ms,
               left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS repeated,
               left(regexp_replace(coalesce(parent_query, '-'), '\s+', ' ', 'g'), 60) AS after, suggestion
          FROM sdp.n_plus_one
    $q$, 'no N+1 pattern seen');
    out := out || sdp._report_section(fmt, 'Recommended indexes', $q$
        SELECT "table"::text AS "table", columns, improvement_pct, calls, total_exec_ms, ddl
          FROM sdp.recommend_indexes()
    $q$, 'no index would make the workload faster');
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
            || 'font-size:.9em}.none{color:#777;font-style:italic}.charts svg{display:block;margin:1em 0}'
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

-- Refreshing and scheduling change data: owners, or roles granted them.
REVOKE ALL ON FUNCTION sdp.register_matview(regclass, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.unregister_matview(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.refresh_matview(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.refresh_matviews(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.run_maintenance() FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.schedule_maintenance(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.unschedule_maintenance() FROM PUBLIC;

GRANT SELECT ON sdp.matview_config, sdp.matview_refresh_history, sdp.matviews,
    sdp.maintenance_workers, sdp.unused_indexes, sdp.duplicate_indexes,
    sdp.redundant_indexes, sdp.invalid_indexes, sdp.index_bloat,
    sdp.foreign_keys_without_index, sdp.database_sizes, sdp.table_sizes,
    sdp.cache_hit_ratio, sdp.connections, sdp.long_running_queries, sdp.lock_tree,
    sdp.vacuum_health, sdp.table_bloat, sdp.snapshots TO PUBLIC;

------------------------------------------------------------------------
-- Index advisor: missing indexes for the profiled workload, proven by
-- what-if planning with hypothetical indexes (index_advisor.c)
------------------------------------------------------------------------

CREATE FUNCTION sdp._index_advice(min_improvement_pct double precision)
RETURNS TABLE (relid oid, columns text, est_cost_before double precision,
               est_cost_after double precision, improvement_pct double precision,
               queryids bigint[], sample_query text, calls bigint,
               total_exec_ms double precision, est_size_bytes bigint,
               est_saved_ms double precision)
AS 'MODULE_PATHNAME', 'sdp_index_advice'
LANGUAGE C VOLATILE STRICT;

-- A name that stays the same from one run to the next:
-- <table>_<columns>_idx, shortened with a hash past 63 bytes.
CREATE FUNCTION sdp._index_name(tab text, columns text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
SELECT CASE WHEN length(n) <= 63 THEN n
            ELSE left(n, 54) || '_' || left(md5(n), 8) END
  FROM (SELECT tab || '_' || btrim(regexp_replace(lower(columns), '[^a-z0-9]+', '_', 'g'), '_')
               || '_idx' AS n) x
$$;

CREATE FUNCTION sdp.recommend_indexes(min_improvement_pct numeric DEFAULT 10)
RETURNS TABLE ("table" regclass, columns text, ddl text,
               est_cost_before numeric, est_cost_after numeric, improvement_pct numeric,
               queryids bigint[], sample_query text, calls bigint, total_exec_ms numeric,
               est_size_bytes bigint, write_overhead text)
LANGUAGE sql VOLATILE
AS $$
SELECT a.relid::regclass, a.columns,
       -- PostgreSQL cannot build a partitioned index concurrently
       format(CASE WHEN c.relkind = 'p' THEN 'CREATE INDEX %I ON %I.%I (%s);'
                   ELSE 'CREATE INDEX CONCURRENTLY %I ON %I.%I (%s);' END,
              sdp._index_name(c.relname, a.columns), n.nspname, c.relname, a.columns),
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
