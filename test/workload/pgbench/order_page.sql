-- ORM-style order page: load the order, then its items, then each item's
-- product one query at a time (the lazy-loading loop, N+1)
\set oid random(1, 200000)
\set p1 random(1, 5000)
\set p2 random(1, 5000)
\set p3 random(1, 5000)
\set p4 random(1, 5000)
\set p5 random(1, 5000)
\set p6 random(1, 5000)
\set p7 random(1, 5000)
\set p8 random(1, 5000)
\set p9 random(1, 5000)
\set p10 random(1, 5000)
\set p11 random(1, 5000)
\set p12 random(1, 5000)
BEGIN;
SELECT id, user_id, status, total FROM orders WHERE id = :oid;
SELECT name, price FROM products WHERE id = :p1;
SELECT name, price FROM products WHERE id = :p2;
SELECT name, price FROM products WHERE id = :p3;
SELECT name, price FROM products WHERE id = :p4;
SELECT name, price FROM products WHERE id = :p5;
SELECT name, price FROM products WHERE id = :p6;
SELECT name, price FROM products WHERE id = :p7;
SELECT name, price FROM products WHERE id = :p8;
SELECT name, price FROM products WHERE id = :p9;
SELECT name, price FROM products WHERE id = :p10;
SELECT name, price FROM products WHERE id = :p11;
SELECT name, price FROM products WHERE id = :p12;
COMMIT;
