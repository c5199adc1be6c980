--
-- Index health: unused, duplicate, redundant, invalid indexes, btree bloat
-- estimates and foreign keys without an index, on a small dairy schema.
-- Sizes and statistics ages vary; they are checked as true/false.
--
SET client_min_messages = warning;
CREATE SCHEMA ih;
SET search_path = ih, public;

CREATE TABLE farms (id int PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE products (id int PRIMARY KEY, farm_id int NOT NULL REFERENCES farms,
                       sku text NOT NULL, name text, category text, price numeric);
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, status text, created_at date);
CREATE TABLE order_items (id int PRIMARY KEY,
                          order_id int NOT NULL REFERENCES orders,
                          product_id int NOT NULL REFERENCES products,
                          quantity int);
-- a composite foreign key covered by an index in the other order
CREATE TABLE shipments (order_id int, line int, PRIMARY KEY (order_id, line));
CREATE TABLE shipment_events (id int PRIMARY KEY, line int, order_id int, at date,
                              FOREIGN KEY (order_id, line) REFERENCES shipments);
CREATE INDEX shipment_events_line_order ON shipment_events (line, order_id);

INSERT INTO farms SELECT g, 'farm ' || g, 'r' || g % 4 FROM generate_series(1, 50) g;
INSERT INTO products SELECT g, 1 + g % 50, 'sku-' || g, 'p' || g, 'c' || g % 7, g FROM generate_series(1, 2000) g;
INSERT INTO orders SELECT g, g % 300, 'paid', date '2025-01-01' + g % 90 FROM generate_series(1, 5000) g;
INSERT INTO order_items SELECT g, 1 + g % 5000, 1 + g % 2000, 1 FROM generate_series(1, 10000) g;

-- unique on sku: enforces something, never "unused"
CREATE UNIQUE INDEX products_sku ON products (sku);
-- exact duplicates: two identical indexes on orders (user_id)
CREATE INDEX orders_user ON orders (user_id);
CREATE INDEX orders_user_again ON orders (user_id);
-- a duplicate of the primary key's index: the constraint's index is kept
CREATE UNIQUE INDEX farms_id_copy ON farms (id);
-- not duplicates: other predicate, other order, other expression
CREATE INDEX orders_user_paid ON orders (user_id) WHERE status = 'paid';
CREATE INDEX orders_user_desc ON orders (user_id DESC);
CREATE INDEX products_lower_name ON products (lower(name));
CREATE INDEX products_upper_name ON products (upper(name));
-- redundant: (farm_id) is a prefix of (farm_id, category)
CREATE INDEX products_farm ON products (farm_id);
CREATE INDEX products_farm_category ON products (farm_id, category);
-- not redundant: a prefix with INCLUDE columns, and a non-leading column
CREATE INDEX products_farm_incl ON products (farm_id) INCLUDE (price);
CREATE INDEX products_category ON products (category);
-- an invalid index left by a failed concurrent build
CREATE INDEX CONCURRENTLY orders_status_bad ON orders ((1 / (id - 17)));
ANALYZE;

SELECT table_name, index_name, duplicate_of, drop_ddl FROM sdp.duplicate_indexes
 WHERE schema_name = 'ih';
SELECT table_name, index_name, covered_by, drop_ddl FROM sdp.redundant_indexes
 WHERE schema_name = 'ih';
SELECT table_name, index_name, still_maintained, fix_ddl FROM sdp.invalid_indexes
 WHERE schema_name = 'ih';
SELECT table_name, constraint_name, columns, referenced_table, create_ddl
  FROM sdp.foreign_keys_without_index WHERE schema_name = 'ih';

-- unused: every index of ih is unscanned so far, but constraint, unique
-- and invalid ones are never listed
SELECT index_name, idx_scan, warning IS NOT NULL AS too_young_warning, drop_ddl
  FROM sdp.unused_indexes WHERE schema_name = 'ih' ORDER BY index_name;
-- the extension's own tables (like any extension's) are not the DBA's to
-- drop indexes from, though their indexes are unscanned here
SELECT count(*) AS sdp_indexes_listed,
       (SELECT count(*) FROM pg_stat_user_indexes WHERE schemaname = 'sdp' AND idx_scan = 0) > 0
         AS sdp_has_unscanned
  FROM sdp.unused_indexes WHERE schema_name = 'sdp';
-- scans take an index off the list (statistics are flushed at commit)
SET enable_seqscan = off;
SELECT count(*) FROM orders WHERE user_id = 7 AND status = 'paid';
SELECT count(*) FROM products WHERE farm_id = 3 AND category = 'c1';
RESET enable_seqscan;
SELECT pg_sleep(0) FROM pg_stat_force_next_flush();
SELECT count(*) AS still_unused FROM sdp.unused_indexes WHERE schema_name = 'ih';
-- which of the equivalent orders (user_id) indexes the planner took varies
-- with the statistics: one of them left the list, and the (farm_id,
-- category) one did
SELECT count(*) FILTER (WHERE index_name LIKE 'orders\_user%') AS orders_user_unused,
       count(*) FILTER (WHERE index_name = 'products_farm_category') AS farm_category_unused
  FROM sdp.unused_indexes WHERE schema_name = 'ih';

-- bloat: freshly built indexes are close to their estimate; after deleting
-- most rows without VACUUM FULL the index keeps its pages
SELECT index_name, bloat_pct < 30 AS compact FROM sdp.index_bloat
 WHERE schema_name = 'ih' AND index_name IN ('orders_pkey', 'products_farm_category', 'order_items_pkey')
 ORDER BY index_name;
-- (a REINDEX is suggested only past 30 % and 1 MB: this one is smaller)
DELETE FROM order_items WHERE id % 10 <> 0;
VACUUM ANALYZE order_items;
SELECT index_name, bloat_pct > 50 AS bloated, fix_ddl IS NOT NULL AS suggests_reindex
  FROM sdp.index_bloat WHERE schema_name = 'ih' AND index_name = 'order_items_pkey';
REINDEX INDEX order_items_pkey;
ANALYZE order_items;
SELECT index_name, bloat_pct < 30 AS compact_again
  FROM sdp.index_bloat WHERE schema_name = 'ih' AND index_name = 'order_items_pkey';

-- the advisor on this schema (its tables are small: no size threshold)
SELECT sdp.reset() >= 0 AS reset;
SELECT count(*) FROM order_items WHERE product_id = 17;
SELECT count(*) FROM order_items WHERE product_id = 18;
SELECT max(created_at) FROM orders WHERE status = 'paid' AND created_at > '2025-03-01';
SELECT p.name FROM products p JOIN farms f ON f.id = p.farm_id WHERE f.region = 'r1' AND p.category = 'c2' LIMIT 3;
SET smart_dairy_perf.advisor_min_table_pages = 0;
SELECT "table", columns, ddl, calls, improvement_pct > 50 AS large_gain
  FROM sdp.recommend_indexes() ORDER BY "table"::text;
RESET smart_dairy_perf.advisor_min_table_pages;
SELECT * FROM sdp.recommend_indexes(-1);
SELECT * FROM sdp.recommend_indexes(101);

-- fixing what the views said empties them
DROP INDEX orders_user_again, farms_id_copy, products_farm, orders_status_bad;
CREATE INDEX ON order_items (order_id);
CREATE INDEX ON order_items (product_id);
-- and an index products.farm_id did not need: (farm_id, category) serves it
CREATE INDEX ON products (farm_id);
SELECT (SELECT count(*) FROM sdp.duplicate_indexes WHERE schema_name = 'ih') AS duplicates,
       (SELECT count(*) FROM sdp.invalid_indexes WHERE schema_name = 'ih') AS invalid,
       (SELECT count(*) FROM sdp.foreign_keys_without_index WHERE schema_name = 'ih') AS fks;
SELECT index_name, covered_by FROM sdp.redundant_indexes WHERE schema_name = 'ih';

-- a partitioned table: one row for its key, not one per partition, and
-- no CONCURRENTLY (PostgreSQL cannot build a partitioned index so)
CREATE TABLE milk_records (farm_id int REFERENCES farms, day date NOT NULL) PARTITION BY RANGE (day);
CREATE TABLE milk_records_2025 PARTITION OF milk_records FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE milk_records_2026 PARTITION OF milk_records FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT table_name, columns, create_ddl FROM sdp.foreign_keys_without_index WHERE schema_name = 'ih';
CREATE INDEX ON milk_records (farm_id);
SELECT count(*) FROM sdp.foreign_keys_without_index WHERE schema_name = 'ih';
-- its index is judged as one: scans and pages of the partitions' indexes
-- added up, dropped without CONCURRENTLY (impossible on a partitioned index)
INSERT INTO milk_records SELECT 1 + g % 50, date '2025-06-01' + g % 400 FROM generate_series(1, 2000) g;
ANALYZE milk_records;
SELECT table_name, index_name, size_bytes > 0 AS sized, drop_ddl FROM sdp.unused_indexes
 WHERE schema_name = 'ih' AND table_name LIKE 'milk_records%';
SET enable_seqscan = off;
SELECT count(*) FROM milk_records WHERE farm_id = 5 AND day >= '2026-01-01';
RESET enable_seqscan;
SELECT pg_sleep(0) FROM pg_stat_force_next_flush();
SELECT count(*) FROM sdp.unused_indexes WHERE schema_name = 'ih' AND table_name LIKE 'milk_records%';

-- names that need quoting come out quoted
CREATE TABLE "Milk Records" ("Farm Id" int REFERENCES farms);
SELECT columns, create_ddl FROM sdp.foreign_keys_without_index WHERE schema_name = 'ih';

RESET search_path;
DROP SCHEMA ih CASCADE;
