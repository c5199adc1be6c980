--
-- Normalized query text: constants become $n, comments and layout do not
-- matter, and the text shown is that of the first execution of a shape.
--
SET smart_dairy_perf.track = 'top';
SELECT sdp.reset() >= 0 AS reset;

-- numbers and strings
SELECT 1 AS one, 'dairy' AS word;
SELECT 2 AS one, 'farm' AS word;

-- negative numbers, floats, bit strings, escape and dollar-quoted strings
SELECT -5 AS neg, 3.5e2 AS sci, B'101' AS bits, E'milk\n' AS esc, $q$it's$q$ AS dq;

-- IN lists: each element is a constant (PostgreSQL 15 gives each list
-- length its own query id)
SELECT x FROM (VALUES (1)) v(x) WHERE x IN (1, 2, 3);
SELECT x FROM (VALUES (1)) v(x) WHERE x IN (4, 5, 6);
SELECT x FROM (VALUES (1)) v(x) WHERE x IN (7, 8);

-- casts and typed literals
SELECT '2026-01-31'::date + 1 AS next_day, CAST('42' AS int) AS n,
       interval '1 month' AS i, timestamptz '2026-02-28 10:00+00' AS ts;

-- comments and white space do not change the shape or the text
/* ORM: OrderRepository.find */ SELECT 'x' AS c   -- trailing
;
SELECT
    'y'    AS c;

-- parameters already in the text keep their numbers; constants follow
PREPARE p(int) AS SELECT $1 + 10 AS plus;
EXECUTE p(1);
EXECUTE p(2);
DEALLOCATE p;

SELECT query, calls, rows
  FROM sdp.query_stats
 WHERE query NOT LIKE '%sdp.%'
 ORDER BY query COLLATE "C";
