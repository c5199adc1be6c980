--
-- Materialized-view refresh manager: the three concurrency modes, refresh
-- in dependency order, skipping views whose base did not change, a failing
-- view that does not stop the others, maintenance entry point, bad input.
-- Durations vary; they are checked as "> 0", never printed.
--
SET client_min_messages = warning;

CREATE TABLE mv_farms (id int PRIMARY KEY, region text NOT NULL);
CREATE TABLE mv_milk (farm_id int NOT NULL REFERENCES mv_farms, day date NOT NULL,
                      liters numeric NOT NULL, fat_pct numeric NOT NULL DEFAULT 4);
INSERT INTO mv_farms SELECT g, CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END
  FROM generate_series(1, 6) g;
INSERT INTO mv_milk SELECT 1 + g % 6, date '2025-01-01' + g % 10, 100 + g
  FROM generate_series(1, 120) g;

-- daily totals, with a unique index: concurrent refresh possible
CREATE MATERIALIZED VIEW z_daily_milk AS
    SELECT farm_id, day, sum(liters) AS liters FROM mv_milk GROUP BY farm_id, day;
CREATE UNIQUE INDEX ON z_daily_milk (farm_id, day);
-- a plain view on it, and a view on that: depends on z_daily_milk
-- although its name sorts first
CREATE VIEW mv_region_daily AS
    SELECT f.region, d.day, d.liters FROM z_daily_milk d JOIN mv_farms f ON f.id = d.farm_id;
CREATE MATERIALIZED VIEW a_region_totals AS
    SELECT region, sum(liters) AS liters FROM mv_region_daily GROUP BY region;
-- no unique index at all
CREATE MATERIALIZED VIEW m_farm_days AS SELECT DISTINCT farm_id, day FROM mv_milk;
-- only an expression index and a partial one: not usable concurrently
CREATE MATERIALIZED VIEW m_fat AS SELECT farm_id, avg(fat_pct) AS fat FROM mv_milk GROUP BY farm_id;
CREATE UNIQUE INDEX ON m_fat ((farm_id + 0));
CREATE UNIQUE INDEX ON m_fat (farm_id) WHERE farm_id > 0;
-- a unique index but never populated
CREATE MATERIALIZED VIEW m_unpopulated AS SELECT id FROM mv_farms WITH NO DATA;
CREATE UNIQUE INDEX ON m_unpopulated (id);

SELECT m, sdp._matview_unique_index(m) AS unique_index,
       sdp._matview_concurrent_possible(m) AS concurrent_possible
  FROM unnest('{z_daily_milk,a_region_totals,m_farm_days,m_fat,m_unpopulated}'::regclass[]) m;

-- registration
SELECT sdp.register_matview('z_daily_milk', '1 hour');
SELECT sdp.register_matview('a_region_totals', '1 hour');
SELECT sdp.register_matview('m_farm_days', '1 hour', 'never');
SELECT sdp.register_matview('m_fat', '1 hour', 'auto');
SELECT sdp.register_matview('m_unpopulated', '1 hour', 'always');
-- registering again changes the settings
SELECT sdp.register_matview('m_fat', '2 hours', 'never');
SELECT matview, refresh_every, concurrent_mode, last_refresh IS NULL AS never_refreshed
  FROM sdp.matview_config ORDER BY matview::text;

-- refresh order: by depth, then name
SELECT * FROM sdp._matview_refresh_order();

-- modes: auto picks concurrently when possible, never and no-index are plain
SELECT mode, rows_after, duration_ms > 0 AS timed FROM sdp.refresh_matview('z_daily_milk');
SELECT mode, rows_after FROM sdp.refresh_matview('m_farm_days');
SELECT mode, rows_after FROM sdp.refresh_matview('m_fat');
SELECT mode, rows_after FROM sdp.refresh_matview('a_region_totals');
-- always: refuses a view that was never populated, with a hint
SELECT * FROM sdp.refresh_matview('m_unpopulated');
REFRESH MATERIALIZED VIEW m_unpopulated;
SELECT mode, rows_after FROM sdp.refresh_matview('m_unpopulated');
-- auto on a view whose unique index is gone falls back to plain
SELECT sdp.register_matview('m_unpopulated', '1 hour', 'auto');
DROP INDEX m_unpopulated_id_idx;
SELECT mode FROM sdp.refresh_matview('m_unpopulated');
-- always cannot even be registered without a usable unique index
SELECT sdp.register_matview('m_unpopulated', '1 hour', 'always');
SELECT sdp.unregister_matview('m_unpopulated');

-- nothing is due: everything was just refreshed
SELECT matview, action FROM sdp.refresh_matviews();

-- due, but the base did not change: skipped
UPDATE sdp.matview_config SET last_refresh = last_refresh - interval '1 day';
SELECT matview, action, message FROM sdp.refresh_matviews();
SELECT matview, staleness FROM sdp.matviews;

-- a change under z_daily_milk: it is refreshed, then a_region_totals,
-- which reads it through a plain view; m_fat and m_farm_days read mv_milk
-- too and are refreshed, nothing else
INSERT INTO mv_milk VALUES (1, '2025-02-01', 1000, 4);
SELECT matview, action, mode, rows_after FROM sdp.refresh_matviews();
SELECT * FROM a_region_totals ORDER BY region;
-- a change only under a_region_totals (mv_farms): only it is refreshed
UPDATE sdp.matview_config SET last_refresh = last_refresh - interval '1 day';
UPDATE mv_farms SET region = 'north' WHERE id = 1;
SELECT matview, action FROM sdp.refresh_matviews();
SELECT * FROM a_region_totals ORDER BY region;
-- only_due => false refreshes everything, changed or not
SELECT matview, action FROM sdp.refresh_matviews(false);

-- a failing view is recorded, the others still run
CREATE MATERIALIZED VIEW m_yield AS
    SELECT farm_id, sum(liters) / count(*) FILTER (WHERE liters < 1000) AS per_day
      FROM mv_milk GROUP BY farm_id;
SELECT sdp.register_matview('m_yield', '1 minute');
INSERT INTO mv_milk VALUES (6, '2025-03-01', 5000, 4);
UPDATE sdp.matview_config SET last_refresh = last_refresh - interval '1 day';
DELETE FROM mv_milk WHERE farm_id = 6 AND liters < 1000;
SELECT matview, action, message FROM sdp.refresh_matviews();
SELECT matview, mode, status, error, rows_after FROM sdp.matview_refresh_history
 WHERE status = 'error';
SELECT object, action, status, message FROM sdp.maintenance_log
 WHERE action = 'refresh' AND status = 'error' ORDER BY id;
-- fixed: the next run refreshes it
INSERT INTO mv_milk VALUES (6, '2025-03-02', 10, 4);
SELECT matview, action FROM sdp.refresh_matviews() WHERE matview = 'public.m_yield';
SELECT matview, last_status, last_error, rows FROM sdp.matviews WHERE matview = 'm_yield'::regclass;

-- history: one row per refresh, failed ones included
SELECT matview, mode, status, count(*) FROM sdp.matview_refresh_history
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT count(*) FILTER (WHERE duration_ms > 0 AND size_bytes > 0) = count(*) AS timed_and_sized
  FROM sdp.matview_refresh_history WHERE status = 'ok';

-- a dropped view's registration is removed by the next run
DROP MATERIALIZED VIEW m_yield;
SELECT action, message FROM sdp.refresh_matviews() WHERE action = 'unregistered';
SELECT count(*) FROM sdp.matview_config WHERE matview::oid NOT IN (SELECT oid FROM pg_class);

-- the maintenance entry point: refreshes, partitions, log retention
-- (the partition tables of earlier tests are set aside)
CREATE TEMP TABLE earlier_partition_config AS SELECT * FROM sdp.partition_config;
DELETE FROM sdp.partition_config;
CREATE TABLE mv_deliveries (id int, day date NOT NULL) PARTITION BY RANGE (day);
INSERT INTO sdp.partition_config (parent, partition_interval, premake)
VALUES ('mv_deliveries', '1 month', 2);
UPDATE sdp.matview_config SET last_refresh = NULL WHERE matview = 'm_fat'::regclass;
INSERT INTO sdp.maintenance_log (started, object, action, status)
VALUES (now() - interval '400 days', 'old', 'old', 'ok');
SET smart_dairy_perf.log_retention = '365d';
SET smart_dairy_perf.snapshot_interval = 0;   -- snapshots: sql/snapshots.sql
SELECT step, status, message FROM sdp.run_maintenance();
SELECT count(*) >= 3 AS partitions_made FROM sdp.partitions WHERE parent = 'mv_deliveries'::regclass;
SELECT action, status FROM sdp.maintenance_log WHERE object LIKE 'database %' ORDER BY id;
INSERT INTO sdp.partition_config SELECT * FROM earlier_partition_config;

-- bad input
SELECT sdp.register_matview('mv_milk', '1 hour');
SELECT sdp.register_matview('mv_region_daily', '1 hour');
SELECT sdp.register_matview('m_farm_days', '0');
SELECT sdp.register_matview('m_farm_days', '-1 hour');
SELECT sdp.register_matview('m_farm_days', '1 hour', 'sometimes');
SELECT sdp.register_matview('m_farm_days', NULL);
SELECT sdp.register_matview('no_such_view', '1 hour');
SELECT * FROM sdp.refresh_matview('mv_region_daily');
CREATE MATERIALIZED VIEW m_unregistered AS SELECT 1 AS one;
SELECT * FROM sdp.refresh_matview('m_unregistered');
SELECT sdp.unregister_matview('m_unregistered');
-- pg_cron is not installed in this database
\set SHOW_CONTEXT never
SELECT sdp.schedule_maintenance();
SELECT sdp.unschedule_maintenance();
\set SHOW_CONTEXT errors

-- ownership and privileges: a role that may execute but does not own
CREATE ROLE sdp_mv_clerk;
GRANT EXECUTE ON FUNCTION sdp.register_matview(regclass, interval, text),
    sdp.refresh_matview(regclass) TO sdp_mv_clerk;
SET ROLE sdp_mv_clerk;
SELECT sdp.register_matview('m_unregistered', '1 hour');
SELECT * FROM sdp.refresh_matview('m_farm_days');
SELECT * FROM sdp.refresh_matviews();
SELECT count(*) >= 0 AS readable FROM sdp.matviews;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION sdp.register_matview(regclass, interval, text),
    sdp.refresh_matview(regclass) FROM sdp_mv_clerk;
DROP ROLE sdp_mv_clerk;

-- unregistering keeps the history
SELECT sdp.unregister_matview('m_farm_days');
SELECT count(*) > 0 AS history_kept FROM sdp.matview_refresh_history
 WHERE matview = 'public.m_farm_days';
