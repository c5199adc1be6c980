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
