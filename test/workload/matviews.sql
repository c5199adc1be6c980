-- Reporting views of the platform's plans (farm dashboards, regional sales,
-- product ratings), registered with the refresh manager; the maintenance
-- worker keeps them fresh during the workload.
CREATE MATERIALIZED VIEW farm_daily_sales AS
    SELECT p.farm_id, (o.created_at AT TIME ZONE 'UTC')::date AS day,
           sum(oi.quantity * oi.unit_price) AS revenue, count(DISTINCT o.id) AS orders
      FROM orders o
      JOIN order_items oi ON oi.order_id = o.id
      JOIN products p ON p.id = oi.product_id
     WHERE o.created_at >= now() - interval '60 days'
     GROUP BY 1, 2;
-- a unique index on plain columns: the manager refreshes it CONCURRENTLY
CREATE UNIQUE INDEX ON farm_daily_sales (farm_id, day);

-- built on farm_daily_sales through a plain view: refreshed after it
CREATE VIEW region_daily_sales AS
    SELECT f.region, s.day, s.revenue, s.orders
      FROM farm_daily_sales s JOIN farms f ON f.id = s.farm_id;
CREATE MATERIALIZED VIEW region_monthly_sales AS
    SELECT region, date_trunc('month', day)::date AS month,
           sum(revenue) AS revenue, sum(orders) AS orders
      FROM region_daily_sales GROUP BY 1, 2;

-- reviews are not written by the workload: skipped as unchanged
CREATE MATERIALIZED VIEW product_ratings AS
    SELECT product_id, avg(rating)::numeric(3,2) AS rating, count(*) AS reviews
      FROM reviews GROUP BY product_id;
CREATE UNIQUE INDEX ON product_ratings (product_id);

SELECT sdp.register_matview('farm_daily_sales', '15 seconds');
SELECT sdp.register_matview('region_monthly_sales', '15 seconds');
SELECT sdp.register_matview('product_ratings', '15 seconds');
SELECT count(*) FROM sdp.refresh_matviews();
