-- farm dashboard: a farm's products with their ratings (slow: no index on
-- reviews.product_id or products.farm_id)
\set fid random(1, 200)
SELECT p.id, p.name, avg(r.rating) AS rating, count(r.id) AS reviews
  FROM products p LEFT JOIN reviews r ON r.product_id = p.id
 WHERE p.farm_id = :fid
 GROUP BY p.id, p.name ORDER BY rating DESC NULLS LAST LIMIT 10;
