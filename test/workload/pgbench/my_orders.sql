-- "My orders" page: no index on orders.user_id yet
\set uid random(1, 50000)
SELECT id, status, total, created_at FROM orders
 WHERE user_id = :uid ORDER BY created_at DESC LIMIT 20;
