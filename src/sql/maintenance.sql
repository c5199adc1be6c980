/* maintenance.sql: what partition and materialized-view maintenance share:
 * the maintenance log (sdp.maintenance_log, with its row-level security),
 * the rule that configuration rows are written by the object's owner
 * (sdp._check_config_writer, used by the configuration tables' triggers),
 * and the one entry point for the background worker and pg_cron
 * (sdp.run_maintenance, sdp.maintenance_workers, sdp.schedule_maintenance). */

------------------------------------------------------------------------
-- Maintenance log: each role reads the rows about the objects it owns;
-- the rest (and rows about the database as a whole) need pg_read_all_stats
------------------------------------------------------------------------

CREATE TABLE sdp.maintenance_log (
    id          bigserial PRIMARY KEY,
    started     timestamptz NOT NULL,
    finished    timestamptz NOT NULL DEFAULT clock_timestamp(),
    object      text NOT NULL,
    action      text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'error', 'skipped')),
    message     text,
    object_owner oid
);
CREATE INDEX ON sdp.maintenance_log (started);
SELECT pg_catalog.pg_extension_config_dump('sdp.maintenance_log', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.maintenance_log_id_seq', '');

COMMENT ON TABLE sdp.maintenance_log IS
'one row per maintenance action: partitions created, pruned, moved rows, errors';
COMMENT ON COLUMN sdp.maintenance_log.object_owner IS
'owner of the table or view the row is about (NULL: the database); that role may read the row';

-- Each role reads the rows about the objects it owns (the same rule for
-- writing and deleting: a role granted INSERT cannot forge a row about
-- another owner's object, nor delete one).
ALTER TABLE sdp.maintenance_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_objects ON sdp.maintenance_log
    USING (pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
           OR (object_owner IS NOT NULL AND pg_catalog.pg_has_role(object_owner, 'USAGE')));

------------------------------------------------------------------------
-- Configuration is written by owners, and says who wrote it
------------------------------------------------------------------------

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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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

-- Running and scheduling change data: owners, or roles granted them.
REVOKE ALL ON FUNCTION sdp.run_maintenance() FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.schedule_maintenance(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.unschedule_maintenance() FROM PUBLIC;

GRANT SELECT ON sdp.maintenance_log, sdp.maintenance_workers TO PUBLIC;
