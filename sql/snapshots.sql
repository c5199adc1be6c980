--
-- Snapshots and before/after comparison.  Times vary: they are checked
-- as true/false; calls and statuses are exact.
--
SET client_min_messages = warning;
CREATE TABLE sn_orders (id int PRIMARY KEY, user_id int, total numeric);
INSERT INTO sn_orders SELECT g, g % 100, g FROM generate_series(1, 5000) g;

-- before: a lookup by user (no index), 5 times; a count, 3 times
SELECT sdp.reset() >= 0 AS reset;
SELECT count(*) FROM sn_orders WHERE user_id = 1;
SELECT count(*) FROM sn_orders WHERE user_id = 2;
SELECT count(*) FROM sn_orders WHERE user_id = 3;
SELECT count(*) FROM sn_orders WHERE user_id = 4;
SELECT count(*) FROM sn_orders WHERE user_id = 5;
SELECT max(total) FROM sn_orders;
SELECT max(total) FROM sn_orders;
SELECT max(total) FROM sn_orders;
SELECT sdp.snapshot('before') > 0 AS taken;

-- optimize, measure again from zero: the lookup 5 times, a new query twice
CREATE INDEX ON sn_orders (user_id);
SELECT sdp.reset() >= 0 AS reset;
SELECT count(*) FROM sn_orders WHERE user_id = 1;
SELECT count(*) FROM sn_orders WHERE user_id = 2;
SELECT count(*) FROM sn_orders WHERE user_id = 3;
SELECT count(*) FROM sn_orders WHERE user_id = 4;
SELECT count(*) FROM sn_orders WHERE user_id = 5;
SELECT min(total) FROM sn_orders;
SELECT min(total) FROM sn_orders;
SELECT sdp.snapshot('after') > 0 AS taken;

SELECT status, left(query, 50) AS query, calls_before, calls_after,
       mean_ms_before > 0 AS timed_before, mean_ms_after > 0 AS timed_after,
       mean_change_pct IS NOT NULL AS has_change
  FROM sdp.compare('before', 'after')
 WHERE status = 'workload' OR query LIKE '%sn_orders%'
 ORDER BY status = 'workload' DESC, query;

-- a snapshot that continues the previous one counts what ran in between
SELECT count(*) FROM sn_orders WHERE user_id = 6;
SELECT sdp.snapshot('later') > 0 AS taken;
SELECT status, left(query, 50) AS query, calls_before, calls_after
  FROM sdp.compare('after', 'later')
 WHERE query LIKE '%sn_orders%' ORDER BY query;

SELECT label, stats_reset IS NOT NULL AS has_reset, automatic FROM sdp.snapshots ORDER BY id;

-- maintenance takes one every snapshot_interval and removes automatic
-- ones older than snapshot_retention (labelled ones stay)
INSERT INTO sdp.snapshots (label, taken_at, automatic) VALUES ('auto old', now() - interval '30 days', true);
SET smart_dairy_perf.snapshot_interval = '1h';
SET smart_dairy_perf.snapshot_retention = '7d';
SELECT step, status, message ~ '^taken #\d+, 1 old removed$' AS taken
  FROM sdp.run_maintenance() WHERE step = 'snapshot';
SELECT step, status, message FROM sdp.run_maintenance() WHERE step = 'snapshot';
SELECT count(*) FILTER (WHERE automatic) AS automatic, count(*) FILTER (WHERE NOT automatic) AS labelled,
       bool_and(label ~ '^auto \d{4}-' OR NOT automatic) AS auto_labels
  FROM sdp.snapshots;
SELECT count(*) > 0 AS has_queries FROM sdp.snapshot_queries q JOIN sdp.snapshots s ON s.id = q.snapshot_id
 WHERE s.automatic;
SET smart_dairy_perf.snapshot_interval = 0;
SELECT step, message FROM sdp.run_maintenance() WHERE step = 'snapshot';
RESET smart_dairy_perf.snapshot_interval;
RESET smart_dairy_perf.snapshot_retention;

-- bad input
SELECT sdp.snapshot('before');
SELECT sdp.snapshot('');
SELECT * FROM sdp.compare('before', 'no such snapshot');

DELETE FROM sdp.snapshots;
DROP TABLE sn_orders;
