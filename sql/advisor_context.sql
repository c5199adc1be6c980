--
-- Resolution context per query shape (sdp.query_samples): the search_path
-- each shape was first run under and one text with its real constants,
-- recorded when the entry is created; visible as the normalized text is;
-- switched off with smart_dairy_perf.query_samples.
--
SET client_min_messages = warning;
CREATE SCHEMA ctx_app;
CREATE TABLE ctx_app.orders (id int PRIMARY KEY, status text, created_at timestamptz);
INSERT INTO ctx_app.orders
  SELECT g, CASE WHEN g % 50 = 0 THEN 'pending' ELSE 'done' END,
         timestamptz '2026-11-01' - g * interval '1 minute'
    FROM generate_series(1, 2000) g;
CREATE FUNCTION ctx_app.pending_count() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM orders WHERE status = 'pending');
END $$;

SELECT sdp.reset() >= 0 AS reset;
SET smart_dairy_perf.track = 'all';
-- the application's sessions: its schema first on the search_path
SET search_path = ctx_app, public;
SELECT count(*) FROM orders WHERE status = 'pending';
SELECT count(*) FROM orders WHERE status = 'done';       -- same shape: first text kept
SELECT count(*) FROM orders WHERE created_at > timestamptz '2026-11-01' - interval '30 days';
SELECT pending_count();
RESET search_path;
RESET smart_dairy_perf.track;

-- one row per row of sdp.query_stats, the same identity
SELECT (SELECT count(*) FROM sdp.query_samples) = (SELECT count(*) FROM sdp.query_stats) AS same_rows,
       (SELECT count(*) FROM sdp.query_samples s JOIN sdp.query_stats q
          ON (q.userid, q.dbid, q.queryid, q.toplevel, q.application_name)
           = (s.userid, s.dbid, s.queryid, s.toplevel, s.application)) =
       (SELECT count(*) FROM sdp.query_samples) AS same_identity;

-- the normalized text beside the sample and the search_path it ran under
SELECT q.query, s.toplevel, s.search_path, s.sample_query
  FROM sdp.query_samples s JOIN sdp.query_stats q
    ON (q.userid, q.dbid, q.queryid, q.toplevel, q.application_name)
     = (s.userid, s.dbid, s.queryid, s.toplevel, s.application)
 WHERE s.sample_query LIKE '%orders%' OR s.sample_query LIKE '%pending_count%'
 ORDER BY s.sample_query COLLATE "C";

-- a text longer than max_query_text: the sample is cut there too
SHOW smart_dairy_perf.max_query_text;
SELECT format('SELECT count(*) FROM ctx_app.orders WHERE status IN (%s)',
              string_agg(quote_literal('status number ' || g), ', ')) AS long_query
  FROM generate_series(1, 80) g \gset
:long_query;
SELECT length(sample_query) AS sample_bytes, length(sample_query) <= 1024 AS bounded,
       left(sample_query, 60) AS starts
  FROM sdp.query_samples WHERE sample_query LIKE 'SELECT count(*) FROM ctx_app.orders WHERE status IN%';

-- another role sees its own samples, not those of others
CREATE ROLE ctx_reader;
GRANT USAGE ON SCHEMA ctx_app TO ctx_reader;
GRANT SELECT ON ctx_app.orders TO ctx_reader;
SET ROLE ctx_reader;
SELECT count(*) FROM ctx_app.orders WHERE id = 42;
SELECT sample_query, search_path FROM sdp.query_samples
 WHERE userid = 'ctx_reader'::regrole AND sample_query LIKE '%orders%';
SELECT count(*) > 0 AS hidden_rows,
       bool_and(queryid IS NULL AND search_path IS NULL
                AND sample_query = '<insufficient privilege>') AS all_hidden
  FROM sdp.query_samples WHERE userid <> 'ctx_reader'::regrole;
RESET ROLE;
-- pg_read_all_stats sees everything
GRANT pg_read_all_stats TO ctx_reader;
SET ROLE ctx_reader;
SELECT count(*) FILTER (WHERE sample_query = '<insufficient privilege>') AS hidden
  FROM sdp.query_samples;
RESET ROLE;
REVOKE pg_read_all_stats FROM ctx_reader;

-- switched off: no sample shown, none kept for new shapes
SET smart_dairy_perf.query_samples = off;
SELECT count(*) FROM ctx_app.orders WHERE id < 10;
SELECT count(*) AS samples_shown FROM sdp.query_samples WHERE sample_query IS NOT NULL;
SELECT count(*) > 0 AS rows_still_listed FROM sdp.query_samples WHERE search_path IS NOT NULL;
SET smart_dairy_perf.query_samples = on;
SELECT count(*) AS no_sample_for_new_shape FROM sdp.query_samples s JOIN sdp.query_stats q
    ON (q.userid, q.dbid, q.queryid, q.toplevel, q.application_name)
     = (s.userid, s.dbid, s.queryid, s.toplevel, s.application)
 WHERE q.query = 'SELECT count(*) FROM ctx_app.orders WHERE id < $1' AND s.sample_query IS NULL;

-- a search_path too long to record
SELECT format('SET search_path = %s, public', string_agg(format('s%s_%s', g, repeat('x', 20)), ', '))
  AS set_path FROM generate_series(1, 12) g \gset
:set_path;
SELECT 'long path' AS marker;
SELECT search_path IS NULL AS path_not_recorded FROM sdp.query_samples
 WHERE sample_query = 'SELECT ''long path'' AS marker';

RESET search_path;
DROP FUNCTION ctx_app.pending_count();
DROP TABLE ctx_app.orders;
DROP SCHEMA ctx_app;
DROP OWNED BY ctx_reader;
DROP ROLE ctx_reader;
