/* partitions.sql: the partition manager (partition_manager.c,
 * partition_convert.c, partition_bounds.c): its configuration table
 * (sdp.partition_config, with the trigger recording who configured it),
 * partition bounds read in fixed settings, the sdp.partitions view, and
 * manage/create/prune/convert/maintain. */

CREATE TABLE sdp.partition_config (
    parent              regclass PRIMARY KEY,
    partition_interval  interval NOT NULL,
    premake             integer NOT NULL CHECK (premake > 0),
    retention           interval CHECK (retention > interval '0'),
    retention_mode      text NOT NULL DEFAULT 'detach'
                        CHECK (retention_mode IN ('detach', 'drop')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    configured_by       regrole,
    default_partition   boolean NOT NULL DEFAULT true,
    partition_timezone  text NOT NULL
                        DEFAULT coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'),
    retention_if_referenced text NOT NULL DEFAULT 'error'
                        CHECK (retention_if_referenced IN ('error', 'keep'))
);
SELECT pg_catalog.pg_extension_config_dump('sdp.partition_config', '');

COMMENT ON TABLE sdp.partition_config IS
'range-partitioned tables kept by sdp.run_partition_maintenance(); edits take effect at the next run';
COMMENT ON COLUMN sdp.partition_config.configured_by IS
'role that last changed the configuration (set by a trigger); maintenance acts only while it has the table owner''s privileges';
COMMENT ON COLUMN sdp.partition_config.default_partition IS
'false: no default partition is made; new partitions attach without locking out readers, a row beyond the partitions fails its INSERT';
COMMENT ON COLUMN sdp.partition_config.partition_timezone IS
'time zone of the period boundaries (local midnight of the 1st for monthly partitions of a timestamptz key)';
COMMENT ON COLUMN sdp.partition_config.retention_if_referenced IS
'retention of a partition a foreign key or a view depends on: error (refused, logged, naming the constraint) or keep (kept, logged)';

-- Only a role with the table owner's privileges writes a row
-- (sdp._check_config_writer); configured_by records it.
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

CREATE TRIGGER check_config_writer BEFORE INSERT OR UPDATE OR DELETE ON sdp.partition_config
    FOR EACH ROW EXECUTE FUNCTION sdp._partition_config_writer();

-- A partition bound as PostgreSQL prints it, as a timestamp in the zone the
-- boundaries are computed in (timestamptz keys) or as is (date, timestamp).
CREATE FUNCTION sdp._bound_local(bound text, keytype regtype, tz text)
RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
-- pg_get_expr() prints them in the session's DateStyle and TimeZone, so
-- they are read in fixed ones (a bound printed as "01/02/2026 00:00:00 CST"
-- would be read back in the wrong zone).
CREATE FUNCTION sdp._range_partitions(tz text, only_parent regclass DEFAULT NULL)
RETURNS TABLE (parent regclass, partition regclass, keytype regtype,
               is_default boolean, range_from text, range_to text,
               from_local timestamp, to_local timestamp)
LANGUAGE sql STABLE
SET DateStyle = 'ISO, YMD' SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
SET search_path = pg_catalog, pg_temp
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
    start_at timestamptz DEFAULT NULL,
    default_partition boolean DEFAULT NULL,
    partition_timezone text DEFAULT NULL,
    retention_if_referenced text DEFAULT NULL)
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

-- A period's start for messages: ISO, " BC" when it is, or infinity.
CREATE FUNCTION sdp._period_text(local timestamp)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN NOT pg_catalog.isfinite(local) THEN local::pg_catalog.text
            WHEN local < '0001-01-01' THEN pg_catalog.to_char(local, 'YYYY-MM-DD HH24:MI:SS') || ' BC'
            ELSE pg_catalog.to_char(local, 'YYYY-MM-DD HH24:MI:SS') END
$$;

-- Changing tables is for their owners; the functions check ownership too.
REVOKE ALL ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz, boolean, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.create_partitions(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.prune_partitions(regclass, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.partition_table(regclass, name, interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.run_partition_maintenance() FROM PUBLIC;

GRANT SELECT ON sdp.partitions, sdp.partition_config TO PUBLIC;
