/* matviews.sql: the materialized-view refresh manager (matview_manager.c):
 * its configuration (sdp.matview_config, with the trigger recording who
 * configured it) and history (sdp.matview_refresh_history, with row-level
 * security), the dependency walk and refresh order, the fingerprint that
 * tells whether anything under a view changed, the sdp.matviews view, and
 * register/unregister/refresh. */

CREATE TABLE sdp.matview_config (
    matview         regclass PRIMARY KEY,
    refresh_every   interval NOT NULL CHECK (refresh_every > interval '0'),
    concurrent_mode text NOT NULL DEFAULT 'auto'
                    CHECK (concurrent_mode IN ('auto', 'always', 'never')),
    last_refresh    timestamptz,
    -- what the base relations looked like when the last refresh started
    -- (sdp._matview_signature); NULL: unknown, refresh when due
    base_signature  text,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    configured_by   regrole
);
SELECT pg_catalog.pg_extension_config_dump('sdp.matview_config', '');

COMMENT ON TABLE sdp.matview_config IS
'materialized views refreshed by sdp.refresh_matviews(); edits take effect at the next run';
COMMENT ON COLUMN sdp.matview_config.configured_by IS
'role that last changed the configuration (set by a trigger); maintenance acts only while it has the view owner''s privileges';

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

-- Each role reads the refreshes of the views it owns; the rest need
-- pg_read_all_stats (the same rule for writing and deleting).
ALTER TABLE sdp.matview_refresh_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_objects ON sdp.matview_refresh_history
    USING (pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
           OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                       WHERE c.oid = matview_oid AND pg_catalog.pg_has_role(c.relowner, 'USAGE')));

-- Only a role with the view owner's privileges writes a row
-- (sdp._check_config_writer); configured_by records it.  The refresh state
-- the manager keeps (last_refresh, base_signature) does not change it.
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

CREATE TRIGGER check_config_writer BEFORE INSERT OR UPDATE OR DELETE ON sdp.matview_config
    FOR EACH ROW EXECUTE FUNCTION sdp._matview_config_writer();

-- Does a view's query call now(), current_date, random() or any other
-- function that is not immutable: then it changes with time alone.
CREATE FUNCTION sdp._time_dependent(rel regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sdp_time_dependent'
LANGUAGE C STABLE STRICT;

-- Relations a view or materialized view reads directly: what its _RETURN
-- rule depends on.
CREATE FUNCTION sdp._relation_reads(reader regclass)
RETURNS SETOF regclass
LANGUAGE sql STABLE ROWS 5
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
-- user-defined function in the query (it may read any table), and for a
-- time-dependent query (always due).
CREATE FUNCTION sdp._matview_signature(mv regclass)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET jit = off
SET search_path = pg_catalog, pg_temp
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

-- Does the view have a unique index REFRESH ... CONCURRENTLY can use:
-- valid, immediate, btree, without predicate and on plain columns (the
-- conditions PostgreSQL itself checks).
CREATE FUNCTION sdp._matview_unique_index(mv regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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

-- It reads with the reader's rights, so the history's policy holds
-- through it too.
CREATE VIEW sdp.matviews WITH (security_invoker = true) AS
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

-- Refreshing changes data: owners, or roles granted them.
REVOKE ALL ON FUNCTION sdp.register_matview(regclass, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.unregister_matview(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.refresh_matview(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.refresh_matviews(boolean) FROM PUBLIC;

GRANT SELECT ON sdp.matview_config, sdp.matview_refresh_history, sdp.matviews TO PUBLIC;
