--
-- Predicates observed in executed plans (sdp.observed_predicates): scan
-- filters that removed rows, join keys of full scans, ORDER BY ... LIMIT
-- sorted after a scan; statements inside functions included; partitions
-- folded into their table.  Every statement is sampled here (rate 1), so
-- the estimated executions equal the samples.  Timings vary: not shown.
--
SET client_min_messages = warning;
CREATE SCHEMA op;
SET search_path = op, public;

CREATE TABLE products (id int PRIMARY KEY, farm_id int NOT NULL, name text, price numeric);
CREATE TABLE notifications (id int PRIMARY KEY, user_id int NOT NULL, read_at timestamptz);
CREATE TABLE order_items (id int PRIMARY KEY, order_id int NOT NULL, product_id int NOT NULL);
CREATE TABLE milk_records (farm_id int NOT NULL, day date NOT NULL, liters numeric)
    PARTITION BY RANGE (day);
CREATE TABLE milk_records_2026_01 PARTITION OF milk_records
    FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE milk_records_2026_02 PARTITION OF milk_records
    FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');

INSERT INTO products SELECT g, 1 + g % 20, 'p' || g, g % 100 FROM generate_series(1, 1000) g;
INSERT INTO notifications SELECT g, 1 + g % 100, CASE WHEN g % 4 = 0 THEN NULL ELSE now() END
  FROM generate_series(1, 2000) g;
INSERT INTO order_items SELECT g, 1 + g % 500, 1 + g % 1000 FROM generate_series(1, 3000) g;
INSERT INTO milk_records SELECT 1 + g % 10, date '2026-01-01' + g % 59, g % 30
  FROM generate_series(1, 1180) g;
ANALYZE products, notifications, order_items, milk_records;

-- a statement inside a function: invisible to the profiler (track = top)
CREATE FUNCTION farm_stock(p_farm int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM products WHERE farm_id = p_farm);
END $$;

SELECT sdp.reset() >= 0 AS reset;
SET smart_dairy_perf.predicate_sample_rate = 1;
SET enable_indexscan = off;   -- the full scans an index would replace
SET enable_bitmapscan = off;

SELECT farm_stock(3);
SELECT farm_stock(4);
SELECT count(*) FROM notifications WHERE user_id = 7 AND read_at IS NULL;
SELECT count(*) FROM notifications WHERE user_id = ANY ('{1,2}');
SELECT count(*) FROM products WHERE 90 < price;                 -- constant on the left
SELECT min(price) FROM (SELECT price FROM products WHERE farm_id = 5 ORDER BY price DESC LIMIT 3) top3;
SELECT count(*) FROM order_items oi JOIN products p ON p.id = oi.product_id WHERE p.farm_id = 2;
SELECT sum(liters) FROM milk_records WHERE farm_id = 4;          -- both partitions
SELECT count(*) FROM products WHERE id > 0;                     -- removed nothing: not kept
SELECT 1/0 FROM products WHERE farm_id = 9;                      -- fails while sampled
SELECT count(*) FROM products WHERE name = 'p1';                -- the next one still counts
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET smart_dairy_perf.predicate_sample_rate;

SELECT table_name, kind, predicate, samples, est_executions = samples AS scaled,
       rows_kept, rows_removed, removed_fraction, queryid <> 0 AS has_queryid
  FROM sdp.observed_predicates
 WHERE schema_name = 'op'
 ORDER BY table_name, kind, predicate;

-- what the index advisor plans for them: parameters, qualified operators
SELECT table_name, what_if_query
  FROM sdp.observed_predicates
 WHERE schema_name = 'op' AND (kind <> 'filter' OR predicate LIKE '%NULL%' OR predicate LIKE '? %')
 ORDER BY 1, 2;

-- only monitoring roles see which columns other roles' statements test
CREATE ROLE op_reader;
GRANT USAGE ON SCHEMA sdp TO op_reader;
SET ROLE op_reader;
SELECT count(*) FROM sdp.observed_predicates;
RESET ROLE;
GRANT pg_read_all_stats TO op_reader;
SET ROLE op_reader;
SELECT count(*) > 0 AS visible FROM sdp.observed_predicates;
RESET ROLE;

-- nothing is sampled at rate 0, and sdp.reset() forgets them
SELECT sdp.reset() >= 0 AS reset;
SET smart_dairy_perf.predicate_sample_rate = 0;
SELECT farm_stock(3);
SELECT count(*) FROM sdp.observed_predicates WHERE schema_name = 'op';

DROP OWNED BY op_reader;
DROP ROLE op_reader;
DROP SCHEMA op CASCADE;
