--
-- Health views: sizes, cache hits, connections, vacuum state and bloat on
-- a table this test controls.  Sizes and times vary; they are checked as
-- true/false.  Locks and idle transactions are in test/t/010_health.pl.
--
SET client_min_messages = warning;
CREATE TABLE hl_milk (id int PRIMARY KEY, farm_id int NOT NULL, liters numeric, note text);
INSERT INTO hl_milk SELECT g, g % 40, g % 30, 'reading ' || g FROM generate_series(1, 20000) g;
-- the insert's counters reach the statistics before ANALYZE sets the row
-- count (else they are added to it)
SELECT pg_sleep(0) FROM pg_stat_force_next_flush();
ANALYZE hl_milk;

SELECT database = current_database() AS this_db, size_bytes > 0 AS sized
  FROM sdp.database_sizes WHERE database = current_database();
SELECT table_name, row_estimate, table_bytes > 0 AS has_heap, index_bytes > 0 AS has_index
  FROM sdp.table_sizes WHERE table_name = 'hl_milk';
SELECT scope, hit_ratio BETWEEN 0 AND 1 AS ratio_ok
  FROM sdp.cache_hit_ratio WHERE scope = 'database';
SELECT state, connections >= 1 AS counted
  FROM sdp.connections WHERE database = current_database() AND state = 'active';
SELECT count(*) AS own_session_listed FROM sdp.long_running_queries WHERE pid = pg_backend_pid();
SELECT count(*) AS no_lock_waits FROM sdp.lock_tree;

-- a freshly loaded table: no dead rows, little bloat
SELECT pg_sleep(0) FROM pg_stat_force_next_flush();
SELECT table_name, live_rows, dead_rows, vacuum_due FROM sdp.vacuum_health WHERE table_name = 'hl_milk';
SELECT table_name, bloat_pct < 20 AS compact FROM sdp.table_bloat WHERE table_name = 'hl_milk';

-- 80 % deleted: dead rows until vacuum, then the pages stay (bloat)
DELETE FROM hl_milk WHERE id % 5 <> 0;
SELECT pg_sleep(0) FROM pg_stat_force_next_flush();
SELECT table_name, live_rows, dead_rows, dead_pct, vacuum_due, analyze_due
  FROM sdp.vacuum_health WHERE table_name = 'hl_milk';
VACUUM ANALYZE hl_milk;
SELECT pg_sleep(0) FROM pg_stat_force_next_flush();
SELECT table_name, dead_rows, vacuum_age < interval '1 minute' AS just_vacuumed,
       analyze_age < interval '1 minute' AS just_analyzed, xid_age >= 0 AS xid_age_known
  FROM sdp.vacuum_health WHERE table_name = 'hl_milk';
SELECT table_name, bloat_pct > 60 AS bloated FROM sdp.table_bloat WHERE table_name = 'hl_milk';
VACUUM FULL hl_milk;
ANALYZE hl_milk;
SELECT table_name, bloat_pct < 20 AS compact_again FROM sdp.table_bloat WHERE table_name = 'hl_milk';

DROP TABLE hl_milk;
