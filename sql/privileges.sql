--
-- Other users' query texts need pg_read_all_stats; reset is not PUBLIC.
--
SET smart_dairy_perf.track = 'top';
SELECT sdp.reset() >= 0 AS reset;
CREATE ROLE sdp_test_reader LOGIN;
SELECT 'superuser data' AS superuser_secret;

SET ROLE sdp_test_reader;
SELECT 'reader data' AS reader_own;
-- own text visible, the superuser's hidden (text and query id)
SELECT CASE WHEN userid = 'sdp_test_reader'::regrole THEN 'reader' ELSE 'other' END AS who,
       query, queryid IS NULL AS id_hidden
  FROM sdp.query_stats
 WHERE query LIKE '%AS reader_own%' OR query LIKE '%AS superuser_secret%'
    OR query = '<insufficient privilege>'
 ORDER BY who, query COLLATE "C";
SELECT sdp.reset();
SELECT sdp.reset(1);
RESET ROLE;

GRANT pg_read_all_stats TO sdp_test_reader;
SET ROLE sdp_test_reader;
SELECT query, queryid IS NULL AS id_hidden
  FROM sdp.query_stats
 WHERE query LIKE '%AS reader_own%' OR query LIKE '%AS superuser_secret%'
 ORDER BY query COLLATE "C";
RESET ROLE;

-- the owner may delegate reset explicitly
GRANT EXECUTE ON FUNCTION sdp.reset() TO sdp_test_reader;
SET ROLE sdp_test_reader;
SELECT sdp.reset() > 0 AS delegated_reset;
RESET ROLE;

REVOKE EXECUTE ON FUNCTION sdp.reset() FROM sdp_test_reader;
REVOKE pg_read_all_stats FROM sdp_test_reader;
DROP ROLE sdp_test_reader;

-- bad input
SELECT sdp.reset(0);
