--
-- Partition manager: calendar edges, time zones, rows in the default
-- partition, gap filling, idempotency, retention, conversion, bad input.
-- Dates in the past (or far future) keep the output independent of today;
-- what depends on now() is checked as true/false.
--
SET client_min_messages = warning;
SET smart_dairy_perf.partition_timezone = 'UTC';
CREATE FUNCTION show_parts(p regclass) RETURNS TABLE (part text, range_from text, range_to text, row_estimate bigint)
LANGUAGE sql AS $$
    SELECT partition::text, range_from, range_to, row_estimate FROM sdp.partitions
     WHERE parent = p AND (is_default OR range_from < '2026-01-01' OR range_from >= '2090-01-01')
     ORDER BY is_default, range_from $$;

-- daily, timestamp key: 29 February and the month end after it
CREATE TABLE milk_staging (farm int, at timestamp, liters numeric);
INSERT INTO milk_staging VALUES (1, '2024-02-28 12:00', 10), (1, '2024-02-29 23:59:59.999', 11), (1, '2024-03-01 00:00', 12);
SELECT count(*) > 0 AS converted FROM sdp.partition_table('milk_staging', 'at', '1 day', 1);
SELECT * FROM show_parts('milk_staging');
SELECT tableoid::regclass AS part, at FROM milk_staging ORDER BY at;

-- weekly, date key: weeks start on Monday, across December to January
CREATE TABLE deliveries (id int, day date NOT NULL);
INSERT INTO deliveries VALUES (1, '2024-12-30'), (2, '2025-01-05'), (3, '2025-01-06');
SELECT count(*) > 0 AS converted FROM sdp.partition_table('deliveries', 'day', '1 week', 1);
SELECT * FROM show_parts('deliveries');
SELECT tableoid::regclass AS part, day FROM deliveries ORDER BY day;

-- monthly, quarterly, yearly on a date key: month ends, 29 February, New Year
CREATE TABLE invoices_m (id int, issued date NOT NULL);
CREATE TABLE invoices_q (id int, issued date NOT NULL);
CREATE TABLE invoices_y (id int, issued date NOT NULL);
INSERT INTO invoices_m VALUES (1, '2023-12-31'), (2, '2024-01-01'), (3, '2024-01-31'), (4, '2024-02-29');
INSERT INTO invoices_q SELECT * FROM invoices_m;
INSERT INTO invoices_y SELECT * FROM invoices_m;
SELECT count(*) > 0 AS m FROM sdp.partition_table('invoices_m', 'issued', '1 month', 1);
SELECT count(*) > 0 AS q FROM sdp.partition_table('invoices_q', 'issued', '3 months', 1);
SELECT count(*) > 0 AS y FROM sdp.partition_table('invoices_y', 'issued', '1 year', 1);
SELECT * FROM show_parts('invoices_m');
SELECT * FROM show_parts('invoices_q');
SELECT * FROM show_parts('invoices_y');
-- premake: the current period and premake more, whatever today is
SELECT count(*) AS current_and_ahead FROM sdp.partitions
 WHERE parent = 'invoices_m'::regclass AND NOT is_default
   AND range_to::date > current_date;

-- timestamptz: boundaries at midnight UTC whatever the session's TimeZone
SET TimeZone = 'America/New_York';
CREATE TABLE orders (id int, created_at timestamptz NOT NULL, total numeric) PARTITION BY RANGE (created_at);
SELECT count(*) > 0 AS managed FROM sdp.manage_partitions('orders', '1 month', 2, start_at => '2025-01-15');
SET TimeZone = 'Asia/Dhaka';
SELECT count(*) AS created_again FROM sdp.create_partitions('orders');
SET TimeZone = 'UTC';
SELECT * FROM show_parts('orders') LIMIT 4;
SET TimeZone = 'America/New_York';
INSERT INTO orders VALUES (1, '2025-01-31 23:30:00', 5);   -- 04:30 UTC on 1 February
SET TimeZone = 'UTC';
SELECT tableoid::regclass AS part, created_at FROM orders;
SELECT count(*) AS contiguous_gaps FROM (
    SELECT range_to, lead(range_from) OVER (ORDER BY range_from) AS next_from
      FROM sdp.partitions WHERE parent = 'orders'::regclass AND NOT is_default) s
 WHERE next_from IS NOT NULL AND next_from <> range_to;

-- a stray far-future row stays in the default partition, with a WARNING
-- and a log row: no partition far outside the managed window, no run of them
INSERT INTO orders VALUES (2, '2090-06-15 10:00', 1), (3, '2090-06-30 23:59:59', 2);
SELECT count(*) AS in_default FROM ONLY orders_default;
SELECT partition, range_from, range_to, rows_moved FROM sdp.create_partitions('orders');
SELECT count(*) AS in_default FROM ONLY orders_default;
SELECT count(*) AS between_window_and_2090 FROM sdp.partitions
 WHERE parent = 'orders'::regclass AND range_from > '2028-01-01';
SELECT object, action, status, message FROM sdp.maintenance_log
 WHERE action = 'rows outside the managed window';
DELETE FROM orders WHERE id IN (2, 3);

-- a gap: a dropped partition comes back, with the rows the default
-- partition holds for it, and only it (idempotent)
DROP TABLE orders_p2025_03;
INSERT INTO orders VALUES (2, '2025-03-15 10:00', 1), (3, '2025-03-31 23:59:59', 2);
SELECT count(*) AS in_default FROM ONLY orders_default;
SELECT partition, range_from, range_to, rows_moved FROM sdp.create_partitions('orders');
SELECT count(*) AS in_default FROM ONLY orders_default;
SELECT tableoid::regclass AS part, count(*) FROM orders WHERE id IN (2, 3) GROUP BY 1;
SELECT pg_get_userbyid(relowner) = current_user AS owned_by_the_owner
  FROM pg_class WHERE oid = 'orders_p2025_03'::regclass;
SELECT count(*) AS nothing_more FROM sdp.create_partitions('orders');
-- up_to reaches further ahead
SELECT count(*) = 12 AS one_year_more FROM sdp.create_partitions('orders', now() + interval '14 months');

-- retention: whole ranges before now() - retention only; dry run changes nothing
UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'orders'::regclass;
INSERT INTO orders VALUES (4, now() - interval '3 months' + interval '1 hour', 9);
SELECT count(*) AS parts_before FROM sdp.partitions WHERE parent = 'orders'::regclass \gset
CREATE TEMP TABLE plan AS SELECT * FROM sdp.prune_partitions('orders', dry_run => true);
SELECT count(*) = :parts_before AS unchanged_by_dry_run
  FROM sdp.partitions WHERE parent = 'orders'::regclass;
SELECT partition, action FROM plan WHERE range_from < '2025-03-01' ORDER BY range_from;
SELECT bool_and(action = 'would detach') AS expired_ones_would_go
  FROM plan WHERE range_to::timestamptz <= now() - interval '3 months';
SELECT bool_and(action = 'keep') AS boundary_and_newer_kept
  FROM plan WHERE range_to::timestamptz > now() - interval '3 months';
SELECT count(*) > 0 AS a_partition_straddles_the_boundary
  FROM plan WHERE range_from::timestamptz < now() - interval '3 months'
              AND range_to::timestamptz > now() - interval '3 months' AND action = 'keep';
SELECT count(*) = (SELECT count(*) FROM plan WHERE action = 'would detach') AS detached_as_planned
  FROM sdp.prune_partitions('orders') WHERE action = 'detached';
SELECT relispartition, (SELECT count(*) FROM orders_p2025_01) AS rows_kept
  FROM pg_class WHERE relname = 'orders_p2025_01';
SELECT count(*) AS newest_row_still_there FROM orders WHERE id = 4;
SELECT count(*) AS nothing_left_to_prune FROM sdp.prune_partitions('orders') WHERE action <> 'keep';
-- drop mode
UPDATE sdp.partition_config SET retention_mode = 'drop' WHERE parent = 'invoices_m'::regclass;
UPDATE sdp.partition_config SET retention = '1 year' WHERE parent = 'invoices_m'::regclass;
SELECT partition, action FROM sdp.prune_partitions('invoices_m') WHERE action <> 'keep' ORDER BY 1;
SELECT count(*) AS dropped_tables_left FROM pg_class WHERE relname IN ('invoices_m_p2023_12', 'invoices_m_p2024_01');

-- maintenance: every parent in its own subtransaction, results logged
DELETE FROM sdp.partition_config WHERE parent::text NOT IN ('orders', 'invoices_m');
CREATE TABLE doomed (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE vanished (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) > 0 AS managed FROM sdp.manage_partitions('doomed');
SELECT count(*) > 0 AS managed FROM sdp.manage_partitions('vanished');
UPDATE sdp.partition_config SET partition_interval = '2 months' WHERE parent = 'doomed'::regclass;
DROP TABLE vanished;
SET client_min_messages = error;   -- the WARNINGs name an OID
SELECT regexp_replace(parent, '^[0-9]+$', '<oid>') AS parent, action, status,
       regexp_replace(message, '[0-9]+', 'N', 'g') AS message
  FROM sdp.run_partition_maintenance() ORDER BY 1, 2;
SET client_min_messages = warning;
SELECT regexp_replace(object, '^[0-9]+$', '<oid>') AS object, action, status,
       regexp_replace(message, '[0-9]+', 'N', 'g') AS message FROM sdp.maintenance_log
 WHERE status <> 'ok' ORDER BY id;
DELETE FROM sdp.partition_config WHERE parent::text ~ '^[0-9]+$';
UPDATE sdp.partition_config SET partition_interval = '1 month' WHERE parent = 'doomed'::regclass;
SELECT parent, status, message FROM sdp.run_partition_maintenance() WHERE status <> 'ok';

-- conversion of a populated table: sequence, identity, defaults, checks,
-- indexes, comments and privileges come along
CREATE TABLE payments (
    id serial,
    ref int GENERATED ALWAYS AS IDENTITY,
    paid_at timestamptz NOT NULL DEFAULT now(),
    amount numeric NOT NULL CHECK (amount > 0),
    method text,
    PRIMARY KEY (id, paid_at));
COMMENT ON TABLE payments IS 'customer payments';
COMMENT ON COLUMN payments.method IS 'bkash, nagad, card';
CREATE INDEX payments_method_idx ON payments (method);
CREATE ROLE sdp_part_reader;
GRANT SELECT ON payments TO sdp_part_reader;
GRANT UPDATE (method) ON payments TO sdp_part_reader;
INSERT INTO payments (paid_at, amount, method)
SELECT '2025-01-01'::timestamptz + g * interval '1 day', g + 1, 'bkash' FROM generate_series(0, 59) g;
SELECT partition, range_from, rows_moved FROM sdp.partition_table('payments', 'paid_at')
 WHERE range_from < '2025-04-01' OR range_from = 'DEFAULT';
SELECT relkind, obj_description(oid) AS comment, relacl FROM pg_class WHERE oid = 'payments'::regclass;
SELECT col_description('payments'::regclass, attnum) AS method_comment
  FROM pg_attribute WHERE attrelid = 'payments'::regclass AND attname = 'method';
SELECT attname, attacl FROM pg_attribute WHERE attrelid = 'payments'::regclass AND attacl IS NOT NULL;
SELECT indexrelid::regclass AS index, indisprimary FROM pg_index WHERE indrelid = 'payments'::regclass ORDER BY 1;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'payments'::regclass ORDER BY 1;
SELECT count(*), sum(amount) FROM payments;
INSERT INTO payments (paid_at, amount) VALUES ('2025-02-15', 1) RETURNING id, ref;
SELECT pg_get_serial_sequence('payments', 'id') AS serial_sequence;

-- bad input: clear errors, nothing changed
CREATE TABLE plain (id int, at timestamptz);
SELECT * FROM sdp.manage_partitions('plain');
CREATE TABLE by_list (id int, region text) PARTITION BY LIST (region);
SELECT * FROM sdp.manage_partitions('by_list');
CREATE TABLE by_hash (id int) PARTITION BY HASH (id);
SELECT * FROM sdp.manage_partitions('by_hash');
CREATE TABLE by_int (id int) PARTITION BY RANGE (id);
SELECT * FROM sdp.manage_partitions('by_int');
CREATE TABLE by_two (a date, b date) PARTITION BY RANGE (a, b);
SELECT * FROM sdp.manage_partitions('by_two');
CREATE TABLE by_expr (at timestamp) PARTITION BY RANGE ((at::date));
SELECT * FROM sdp.manage_partitions('by_expr');
CREATE TABLE fine (id int, at timestamptz) PARTITION BY RANGE (at);
SELECT * FROM sdp.manage_partitions('fine', '2 months');
SELECT * FROM sdp.manage_partitions('fine', '30 days');
SELECT * FROM sdp.manage_partitions('fine', premake => 0);
SELECT * FROM sdp.manage_partitions('fine', retention => '-1 day');
SELECT * FROM sdp.manage_partitions('fine', retention => '0');
SELECT * FROM sdp.manage_partitions('fine', retention_mode => 'archive');
SELECT * FROM sdp.manage_partitions('no_such_table');
SELECT * FROM sdp.create_partitions('fine');
SELECT * FROM sdp.prune_partitions('fine');
SELECT count(*) > 0 AS managed FROM sdp.manage_partitions('fine');
SELECT * FROM sdp.prune_partitions('fine');
-- the failed calls changed nothing: default, current month and 3 ahead
SELECT count(*) AS fine_partitions FROM sdp.partitions WHERE parent = 'fine'::regclass;
CREATE VIEW plain_view AS SELECT * FROM plain;
SELECT * FROM sdp.partition_table('plain_view', 'at');
SELECT * FROM sdp.partition_table('plain', 'at');
SELECT * FROM sdp.partition_table('fine', 'at');
SELECT * FROM sdp.partition_table('invoices_m', 'issued');
DROP VIEW plain_view;
SELECT * FROM sdp.partition_table('plain', 'nope');
SELECT * FROM sdp.partition_table('plain', 'id');
CREATE TABLE keyed (id int PRIMARY KEY, at timestamptz NOT NULL);
SELECT * FROM sdp.partition_table('keyed', 'at');
CREATE TABLE keyed_u (id int, at timestamptz NOT NULL);
CREATE UNIQUE INDEX keyed_u_id ON keyed_u (id);
SELECT * FROM sdp.partition_table('keyed_u', 'at');
CREATE TABLE referenced (id int, at timestamptz NOT NULL, PRIMARY KEY (id, at));
CREATE TABLE referencing (rid int, rat timestamptz, FOREIGN KEY (rid, rat) REFERENCES referenced);
SELECT * FROM sdp.partition_table('referenced', 'at');
SELECT relkind FROM pg_class WHERE relname IN ('plain', 'keyed', 'keyed_u', 'referenced') ORDER BY relname;
-- not the owner
CREATE ROLE sdp_part_intruder;
SET ROLE sdp_part_intruder;
SELECT * FROM sdp.manage_partitions('fine');
RESET ROLE;
GRANT EXECUTE ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz, boolean, text, text),
    sdp.partition_table(regclass, name, interval, integer) TO sdp_part_intruder;
SET ROLE sdp_part_intruder;
SELECT * FROM sdp.manage_partitions('fine');
SELECT * FROM sdp.partition_table('plain', 'at');
RESET ROLE;

DROP OWNED BY sdp_part_intruder, sdp_part_reader;
DROP ROLE sdp_part_intruder, sdp_part_reader;
RESET TimeZone;
