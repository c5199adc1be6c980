-- ERP: daily sales by category over the last 30 days (a report query)
SELECT date_trunc('day', o.created_at) AS day, p.category,
       sum(oi.quantity * oi.unit_price) AS revenue, count(DISTINCT o.id) AS orders
  FROM orders o
  JOIN order_items oi ON oi.order_id = o.id
  JOIN products p ON p.id = oi.product_id
 WHERE o.created_at >= now() - interval '30 days' AND o.status <> 'cancelled'
 GROUP BY 1, 2 ORDER BY 1, 2;
