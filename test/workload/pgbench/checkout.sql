-- checkout (erp_write pool): create an order with items and a payment
\set uid random(1, 50000)
\set pid random(1, 5000)
\set qty random(1, 4)
BEGIN;
INSERT INTO orders (user_id, status, total) VALUES (:uid, 'paid', 0) RETURNING id \gset
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
     SELECT :id, id, :qty, price FROM products WHERE id = :pid;
UPDATE products SET stock = stock - :qty WHERE id = :pid;
UPDATE orders SET total = (SELECT sum(quantity * unit_price) FROM order_items WHERE order_id = :id) WHERE id = :id;
INSERT INTO payments (order_id, amount, method, status, paid_at)
     SELECT id, total, 'bkash', 'captured', now() FROM orders WHERE id = :id;
INSERT INTO notifications (user_id, kind, payload) VALUES (:uid, 'order_status', jsonb_build_object('order_id', :id));
COMMIT;
