/* index_health.sql: index health: unused, duplicate, redundant and invalid
 * indexes, btree bloat estimates, foreign keys without an index.  Catalog
 * and statistics reads only: no relation is locked, so the views answer
 * during DDL.  Also the helpers the index advisor shares (sdp._leaves,
 * sdp._stats_age). */

-- An index or table and, when it is partitioned, every partition below it
-- (from pg_inherits: pg_partition_tree would lock them all).
CREATE FUNCTION sdp._leaves(rel oid)
RETURNS SETOF oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
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
-- Index health leaves out the tables of extensions (this one's sdp tables,
-- PostGIS's, ...): their indexes are the extension's, not the DBA's to drop.
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
       AND c.relkind IN ('i', 'I')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = t.oid AND d.deptype = 'e');

-- How old the statistics are: since the last reset of this database's
-- counters, or since the server started when they were never reset.
CREATE FUNCTION sdp._stats_age()
RETURNS interval
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
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

GRANT SELECT ON sdp.unused_indexes, sdp.duplicate_indexes, sdp.redundant_indexes,
    sdp.invalid_indexes, sdp.index_bloat, sdp.foreign_keys_without_index TO PUBLIC;
