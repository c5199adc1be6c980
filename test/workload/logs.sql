-- The platform plan's other two monthly-partitioned tables (platform-docs
-- 000, "Table Partitioning"), each with its own retention: page views are
-- kept short (3 months, dropped), audit logs long (24 months, detached so
-- they can be archived).  Neither gets a default partition: new partitions
-- then attach without waiting for long readers, expired ones leave with
-- DETACH PARTITION CONCURRENTLY, and premake (3 months ahead) keeps every
-- row in range; a row beyond it would fail its INSERT, not hide.
CREATE TABLE page_views (
    id          bigserial,
    user_id     bigint,
    page_url    text NOT NULL,
    session_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE audit_logs (
    id          bigserial,
    user_id     bigint,
    action      text NOT NULL,
    table_name  text,
    record_id   bigint,
    new_values  jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- registered first without retention, so that the history loaded below
-- (older than the retention, as a table converted late would have) finds
-- its partitions; the retention is set afterwards and the maintenance run
-- then removes what it no longer keeps
SELECT count(*) AS page_views_partitions FROM sdp.manage_partitions('page_views', '1 month', 3,
    retention_mode => 'drop', default_partition => false,
    start_at => date_trunc('month', now()) - interval '5 months');
SELECT count(*) AS audit_logs_partitions FROM sdp.manage_partitions('audit_logs', '1 month', 3,
    retention_mode => 'detach', default_partition => false,
    start_at => date_trunc('month', now()) - interval '26 months');

INSERT INTO page_views (user_id, page_url, session_id, created_at)
SELECT 1 + g % 5000, '/products/' || g % 800, md5((g / 20)::text),
       now() - (g % 150) * interval '1 day' - (g % 86400) * interval '1 second'
  FROM generate_series(1, 200000) g;
INSERT INTO audit_logs (user_id, action, table_name, record_id, new_values, created_at)
SELECT 1 + g % 5000, (ARRAY['login', 'order.update', 'price.change'])[1 + g % 3], 'orders', g,
       jsonb_build_object('n', g), now() - (g % 780) * interval '1 day'
  FROM generate_series(1, 50000) g;
UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'page_views'::regclass;
UPDATE sdp.partition_config SET retention = '24 months' WHERE parent = 'audit_logs'::regclass;
ANALYZE page_views, audit_logs;
