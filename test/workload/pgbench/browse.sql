-- storefront reads (web_read pool): product and user point lookups
\set uid random(1, 50000)
\set pid random(1, 5000)
SELECT id, full_name, email, region FROM users WHERE id = :uid;
SELECT id, name, price, stock FROM products WHERE id = :pid;
SELECT count(*) FROM notifications WHERE user_id = :uid AND read_at IS NULL;
