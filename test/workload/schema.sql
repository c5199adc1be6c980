-- Smart Dairy marketplace + ERP: the tables the platform's plans talk about,
-- with only primary keys and the unique constraints the application needs,
-- as the schema stands before anyone tuned it.  About 1.1 million rows.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT setseed(0.42) \gset

CREATE TABLE farms (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    region      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL,
    full_name   text NOT NULL,
    role        text NOT NULL DEFAULT 'customer',
    region      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id          bigserial PRIMARY KEY,
    farm_id     bigint NOT NULL REFERENCES farms(id),
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    category    text NOT NULL,
    price       numeric(10,2) NOT NULL,
    stock       integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- orders will be partitioned by month (test/demo.sh converts it with
-- sdp.partition_table), so, as in the platform's partitioning migration, its
-- key includes created_at and other tables do not reference it by foreign key.
CREATE TABLE orders (
    id          bigserial,
    user_id     bigint NOT NULL REFERENCES users(id),
    status      text NOT NULL,
    total       numeric(12,2) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
);

CREATE TABLE order_items (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL,
    product_id  bigint NOT NULL REFERENCES products(id),
    quantity    integer NOT NULL,
    unit_price  numeric(10,2) NOT NULL
);

CREATE TABLE payments (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL,
    amount      numeric(12,2) NOT NULL,
    method      text NOT NULL,
    status      text NOT NULL,
    paid_at     timestamptz
);

CREATE TABLE reviews (
    id          bigserial PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products(id),
    user_id     bigint NOT NULL REFERENCES users(id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id),
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO farms (name, region, created_at)
SELECT 'Farm ' || g, (ARRAY['Dhaka','Chattogram','Rajshahi','Khulna','Sylhet'])[1 + g % 5],
       now() - interval '3 years' * random()
  FROM generate_series(1, 200) g;

INSERT INTO users (email, full_name, role, region, created_at)
SELECT 'User' || g || '@Example.com', 'Customer ' || g,
       CASE WHEN g % 100 = 0 THEN 'farmer' WHEN g % 500 = 0 THEN 'admin' ELSE 'customer' END,
       (ARRAY['Dhaka','Chattogram','Rajshahi','Khulna','Sylhet'])[1 + g % 5],
       now() - interval '2 years' * random()
  FROM generate_series(1, 50000) g;

INSERT INTO products (farm_id, sku, name, category, price, stock, created_at)
SELECT 1 + g % 200, 'SKU-' || lpad(g::text, 6, '0'),
       (ARRAY['Fresh milk','Yogurt','Ghee','Butter','Cheese','Paneer','Lassi'])[1 + g % 7] || ' ' || g,
       (ARRAY['milk','yogurt','ghee','butter','cheese','paneer','lassi'])[1 + g % 7],
       round((50 + random() * 950)::numeric, 2), (random() * 500)::int,
       now() - interval '2 years' * random()
  FROM generate_series(1, 5000) g;

INSERT INTO orders (user_id, status, total, created_at)
SELECT 1 + (random() * 49999)::bigint,
       (ARRAY['pending','paid','shipped','delivered','delivered','delivered','cancelled'])[1 + (random() * 6)::int],
       0, now() - interval '540 days' * power(random(), 1.5)
  FROM generate_series(1, 200000) g;

INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o, 1 + (random() * 4999)::bigint, 1 + (random() * 5)::int,
       round((50 + random() * 950)::numeric, 2)
  FROM generate_series(1, 200000) o, generate_series(1, 3) i
 WHERE i = 1 OR random() < 0.75;

UPDATE orders o SET total = s.total
  FROM (SELECT order_id, sum(quantity * unit_price) AS total FROM order_items GROUP BY order_id) s
 WHERE s.order_id = o.id;

INSERT INTO payments (order_id, amount, method, status, paid_at)
SELECT id, total, (ARRAY['bkash','nagad','card','cash_on_delivery'])[1 + id % 4],
       CASE WHEN status = 'cancelled' THEN 'refunded' ELSE 'captured' END,
       created_at + interval '5 minutes'
  FROM orders WHERE status <> 'pending';

INSERT INTO reviews (product_id, user_id, rating, body, created_at)
SELECT 1 + (random() * 4999)::bigint, 1 + (random() * 49999)::bigint,
       1 + (random() * 4)::int, 'Review ' || g, now() - interval '1 year' * random()
  FROM generate_series(1, 60000) g;

INSERT INTO notifications (user_id, kind, payload, read_at, created_at)
SELECT 1 + (random() * 49999)::bigint,
       (ARRAY['order_status','promotion','payment','delivery'])[1 + g % 4],
       jsonb_build_object('order_id', 1 + g % 200000, 'n', g),
       CASE WHEN random() < 0.6 THEN now() - interval '1 day' * random() END,
       now() - interval '180 days' * random()
  FROM generate_series(1, 120000) g;

VACUUM ANALYZE;

-- ERP job written the way the platform's plans write it: one UPDATE per
-- product in a PL/pgSQL loop (row-by-row DML inside a function).
CREATE FUNCTION restock_farm(p_farm bigint, p_amount int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n int := 0;
BEGIN
    FOR r IN SELECT id FROM products WHERE farm_id = p_farm ORDER BY id LOOP
        UPDATE products SET stock = stock + p_amount WHERE id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
