--
-- The report: every section in every format, the comparison section when
-- two snapshots are given, bad input.  Figures vary; only the structure
-- is checked.  (test/t/012_report.pl renders the HTML in Chromium.)
--
SET client_min_messages = warning;
SELECT sdp.reset() >= 0 AS reset;
CREATE TABLE rp_orders (id int PRIMARY KEY, user_id int);
INSERT INTO rp_orders SELECT g, g % 10 FROM generate_series(1, 100) g;
SELECT count(*) FROM rp_orders WHERE user_id = 1;
SELECT sdp.snapshot('rp before') > 0 AS taken;
SELECT count(*) FROM rp_orders WHERE user_id = 2;
SELECT sdp.snapshot('rp after') > 0 AS taken;

SELECT line FROM regexp_split_to_table(sdp.report('text', 'rp before', 'rp after'), E'\n') line
 WHERE line ~ '^[A-Z][A-Za-z0-9+ ()/:→-]+$' AND line !~ '^(SELECT|UPDATE|INSERT|DELETE|WITH)';
SELECT (regexp_matches(sdp.report('markdown'), '^## (.*)$', 'gn'))[1] AS markdown_sections;
SELECT r LIKE '<!DOCTYPE html>%' AS doctype, r LIKE '%</html>' || E'\n' AS closed,
       (SELECT count(*) FROM regexp_matches(r, '<svg ', 'g')) AS charts,
       (SELECT count(*) FROM regexp_matches(r, '<h2>', 'g')) AS sections,
       r NOT LIKE '%<script%' AS no_script
  FROM sdp.report('html', 'rp before', 'rp after') r;
-- the advisor's coverage line: what share of the workload its advice covers
SELECT regexp_replace(line, ' +(\d+) +\d+\.\d$', ': \1 statements') AS coverage
  FROM regexp_split_to_table(sdp.report('text'), E'\n') line
 WHERE line ~ '^[a-z][a-zA-Z ,]+ +\d+ +\d+\.\d$';
-- text that looks like markup is escaped in HTML
CREATE TABLE "rp <b>bold</b>" (id int);
INSERT INTO "rp <b>bold</b>" SELECT generate_series(1, 10);
SELECT count(*) FROM "rp <b>bold</b>";
SELECT sdp.report('html') LIKE '%&lt;b&gt;bold&lt;/b&gt;%' AS escaped,
       sdp.report('html') NOT LIKE '%"rp <b>bold%' AS no_raw_markup;

-- bad input
SELECT sdp.report('pdf');
SELECT sdp.report('text', 'rp before');
SELECT sdp.report('text', 'rp before', 'nothing');
DELETE FROM sdp.snapshots;
DROP TABLE rp_orders, "rp <b>bold</b>";
