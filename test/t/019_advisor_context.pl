# Index advice for every statement the application ran, whatever its
# search_path and its text: the application's tables live in schema app
# (its role's search_path), the DBA calls the advisor from a default
# session.  Each statement is planned under the search_path it ran with
# (a SQL function's own SET search_path included), from its sample with
# real constants when the normalized text does not parse (interval
# '30 days' becomes interval $n), and a constant predicate
# (status = 'pending') earns a partial index.  What could not be planned
# is counted with its reason and share of the time: a text cut at
# max_query_text, a dropped table, texts the caller may not see.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('advisor_context');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
shared_buffers = 128MB
smart_dairy_perf.track = all
smart_dairy_perf.max_query_text = 256
# the profile alone: no predicate sampled from executed plans stands in
smart_dairy_perf.predicate_sample_rate = 0
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE ROLE shop LOGIN;
CREATE SCHEMA app AUTHORIZATION shop;
CREATE SCHEMA billing AUTHORIZATION shop;
ALTER ROLE shop SET search_path = app;
SET ROLE shop;
CREATE TABLE app.orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
                         total numeric, created_at timestamptz NOT NULL);
CREATE TABLE app.events (id int PRIMARY KEY, kind text, created_at timestamptz NOT NULL);
CREATE TABLE app.scratch (id int PRIMARY KEY, tag int);
CREATE TABLE billing.payments (id int PRIMARY KEY, customer_id int NOT NULL, amount numeric);
-- a function with its own search_path: its statement resolves there
CREATE FUNCTION app.customer_payments(int) RETURNS bigint LANGUAGE sql STABLE
    SET search_path = billing
    AS 'SELECT count(*) FROM payments WHERE customer_id = $1';
-- one order in a hundred is pending
INSERT INTO app.orders SELECT g, 1 + g % 20000, CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'shipped' END,
       g % 500, now() - g * interval '1 minute' FROM generate_series(1, 200000) g;
-- three years of events, one every five minutes
INSERT INTO app.events SELECT g, 'k' || g % 7, now() - g * interval '5 minutes'
  FROM generate_series(1, 300000) g;
INSERT INTO app.scratch SELECT g, g % 10 FROM generate_series(1, 50000) g;
INSERT INTO billing.payments SELECT g, 1 + g % 20000, g % 300 FROM generate_series(1, 200000) g;
RESET ROLE;
VACUUM ANALYZE;
});

my $long_list = join(', ', 1 .. 90);
my $script = $node->basedir . '/workload.sql';
open my $fh, '>', $script or die $!;
print $fh <<"W";
\\set cid random(1, 20000)
SELECT id, total FROM orders WHERE customer_id = :cid;
SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 20;
SELECT count(*) FROM events WHERE created_at > now() - interval '30 days';
SELECT customer_payments(:cid);
SELECT id FROM orders WHERE customer_id = :cid AND total NOT IN ($long_list);
W
close $fh;
sub workload
{
	my $result = `pgbench -n -c 2 -j 2 -T 6 -U shop -f $script -h @{[$node->host]} -p @{[$node->port]} $db 2>&1`;
	$result =~ /tps = ([\d.]+)/ or die "pgbench failed: $result";
	return $1;
}

sql('SELECT sdp.reset()');
my $tps_before = workload();
# a statement on a table that is gone by the time the advisor runs
$node->safe_psql($db, 'SELECT count(*) FROM scratch WHERE tag = 3', extra_params => ['-U', 'shop']);
sql('DROP TABLE app.scratch');

# --- what was recorded per shape
is(sql(q{SELECT search_path FROM sdp.query_samples s JOIN sdp.query_stats q
	ON (q.userid, q.dbid, q.queryid, q.toplevel, q.application_name)
	 = (s.userid, s.dbid, s.queryid, s.toplevel, s.application)
	WHERE q.query LIKE 'SELECT count(*) FROM payments%'}),
	'billing', 'the statement inside the function ran under its own search_path');
is(sql(q{SELECT toplevel FROM sdp.query_stats WHERE query LIKE 'SELECT count(*) FROM payments%'}),
	'f', '... and is counted as nested');
is(sql(q{SELECT DISTINCT search_path FROM sdp.query_samples
	WHERE userid = 'shop'::regrole AND toplevel}), 'app',
	'the application statements ran under the role\'s search_path');
like(sql(q{SELECT sample_query FROM sdp.query_samples WHERE sample_query LIKE '%events%'}),
	qr/^SELECT count\(\*\) FROM events WHERE created_at > now\(\) - interval '30 days'$/,
	'the sample keeps the typed literal');
like(sql(q{SELECT query FROM sdp.query_stats WHERE query LIKE '%events%'}),
	qr/interval \$\d/, '... which the normalized text turned into a parameter that does not parse');

# --- the advisor from a default session
my ($ret, $out, $err) = $node->psql($db, q{
	SELECT "table" || ' (' || columns || ')' FROM sdp.recommend_indexes() ORDER BY 1});
is($ret, 0, 'sdp.recommend_indexes() from the default search_path');
diag("recommended: " . join('; ', split /\n/, $out));
my @recs = split /\n/, $out;
ok((grep { $_ eq 'app.orders (customer_id)' } @recs),
	'app.orders (customer_id): found although app is not on the caller\'s search_path');
ok((grep { $_ eq q{app.orders (created_at WHERE (status = 'pending'::text))} } @recs),
	'app.orders: a partial index for the pending orders, from the real constant');
ok((grep { $_ eq 'app.events (created_at)' } @recs),
	'app.events (created_at): planned from the sample of the interval statement');
ok((grep { $_ eq 'billing.payments (customer_id)' } @recs),
	'billing.payments (customer_id): the function\'s statement, under the function\'s search_path');
ok(!(grep { /^app\.orders \(status/ } @recs), 'no plain index on the low-cardinality status');
like($err, qr/NOTICE:  index advisor planned 5 of 7 profiled statements \((\d+\.\d) % of their time\); not planned: /,
	'a NOTICE says how much of the workload was planned');
like($err, qr/1 cut text \(\d+\.\d %\)/, '... the text cut at max_query_text');
like($err, qr/1 relation not found \(\d+\.\d %\)/, '... the statement on the dropped table');

# --- coverage per statement
sub coverage_of
{
	my ($like) = @_;
	return sql(qq{SELECT string_agg(reason, ', ') FROM sdp.advisor_coverage() WHERE query LIKE '$like'});
}
is(coverage_of('SELECT count(*) FROM events%'), 'planned from its sample',
	'coverage: the interval statement planned from its sample');
is(coverage_of('SELECT id, total FROM orders%'), 'planned',
	'coverage: a lookup by key planned generically (any key, not the sample\'s)');
is(coverage_of('SELECT id FROM orders WHERE status%'), 'planned from its sample',
	'coverage: the constant status planned from its sample');
is(coverage_of('SELECT id FROM orders WHERE customer_id%'), 'cut text', 'coverage: the cut text');
is(coverage_of('SELECT count(*) FROM scratch%'), 'relation not found', 'coverage: the dropped table');
like(sql(q{SELECT error FROM sdp.advisor_coverage() WHERE reason = 'relation not found'}),
	qr/relation "scratch" does not exist/, '... with the error that said so');
is(coverage_of('SELECT count(*) FROM payments%'), 'planned',
	'coverage: the statement inside the function');
is(sql(q{SELECT round(sum(time_pct)) FROM sdp.advisor_coverage()}), '100',
	'coverage: the shares add up to the whole workload');
# the workload's statements only: with track = all the statements of the
# extension's own SQL functions are profiled too, and left out
is(sql(q{SELECT count(*) FILTER (WHERE planned) || ' of ' || count(*) FROM sdp.advisor_coverage()}),
	'5 of 7', 'coverage agrees with the NOTICE')
  or diag(sql(q{SELECT reason || ': ' || query FROM sdp.advisor_coverage()}));

# --- without samples, the typed literal cannot be planned
{
	my ($r, $o, $e) = $node->psql($db, q{SET smart_dairy_perf.query_samples = off;
		SELECT reason FROM sdp.advisor_coverage() WHERE query LIKE '%events%';
		SELECT count(*) FROM sdp.recommend_indexes() WHERE "table" = 'app.events'::regclass});
	is($o, "syntax\n0", 'samples off: the interval statement is a syntax error, no index for it');
}

# --- a DBA without pg_read_all_stats is told why the others' statements are missing
sql(q{CREATE ROLE dba LOGIN;
	GRANT EXECUTE ON FUNCTION sdp.recommend_indexes(numeric), sdp._recommend_indexes(numeric, text),
	  sdp._index_advice(double precision, text), sdp.advisor_coverage(text), sdp._advisor_coverage(text) TO dba});
{
	my ($r, $o, $e) = $node->psql($db, q{SET ROLE dba; SELECT count(*) FROM sdp.recommend_indexes()});
	is($o, '0', 'a DBA who cannot read the statements gets no advice');
	like($e, qr/index advisor planned 0 of \d+ profiled statements \(0\.0 % of their time\); not planned: \d+ permission \(100\.0 %\)/,
		'... and the NOTICE says why');
}

# --- the advice applied: the application's workload is faster
my $ddl = sql(q{SELECT string_agg(ddl, E'\n') FROM sdp.recommend_indexes()});
sql($_) for split /\n/, $ddl;
sql('ANALYZE');
sql('SELECT pg_stat_reset()');
my $tps_after = workload();
sql('SELECT pg_stat_force_next_flush()');
is(sql(q{SELECT string_agg(indexrelname, ', ') FROM pg_stat_user_indexes
	WHERE schemaname IN ('app', 'billing') AND indexrelname LIKE '%\_idx' AND idx_scan = 0}), '',
	'every recommended index is used by the application');
diag(sprintf('workload before %.0f tps, after the recommended indexes %.0f tps (%.1fx)',
	$tps_before, $tps_after, $tps_after / $tps_before));
cmp_ok($tps_after, '>', 2 * $tps_before, 'the workload is at least twice as fast');

# --- hide and validate, before building or dropping
my ($customer_idx) = sql(q{SELECT indexrelid::regclass FROM pg_index
	WHERE indrelid = 'app.orders'::regclass AND indkey::text = '2' AND indpred IS NULL});
ok($customer_idx, "the recommended index on customer_id is there ($customer_idx)");
like(sql(qq{SELECT sdp.hide_index('$customer_idx');
	EXPLAIN (COSTS OFF) SELECT id FROM app.orders WHERE customer_id = 42}),
	qr/^t\n.*Seq Scan on orders/s, 'hidden: the session plans without the index');
like(sql(q{EXPLAIN (COSTS OFF) SELECT id FROM app.orders WHERE customer_id = 42}),
	qr/Index Scan using orders_customer_id_idx|Bitmap Index Scan on orders_customer_id_idx/,
	'... and another session still uses it: nothing leaks');
is(sql(qq{SELECT sdp.hide_index('$customer_idx'), sdp.hide_index('$customer_idx');
	SELECT string_agg(index || ' on ' || "table", ', ') FROM sdp.hidden_indexes();
	SELECT sdp.unhide_index('$customer_idx'), sdp.unhide_index('$customer_idx');
	SELECT count(*) FROM sdp.hidden_indexes()}),
	"t|f\n$customer_idx on app.orders\nt|f\n0", 'hide, list, unhide: true once, false when already done');
($ret, $out, $err) = $node->psql($db, q{SELECT sdp.hide_index('app.orders')});
like($err, qr/ERROR:  "orders" is not an index/, 'hide_index of a table: a clear error');

# a range index that the planner prices as a win (the DBA's session makes
# random reads look cheap) but that measures slower than the scan it replaces
sql(q{CREATE INDEX orders_total_idx ON app.orders (total); ANALYZE app.orders});
$node->safe_psql($db, q{SELECT sum(customer_id) FROM orders WHERE total > 50;
	SELECT sum(customer_id) FROM orders WHERE total > 50;
	SELECT id FROM orders WHERE customer_id = 5 FOR UPDATE;
	DELETE FROM orders WHERE customer_id = -1 AND total > 50},
	extra_params => ['-U', 'shop']);
my $rows_before = sql('SELECT count(*) FROM app.orders');
my $v = sql(qq{SELECT verdict || '|' || runs || '|' || (ms_with_index > 0) || '|' || (ms_without_index > 0)
	FROM sdp.validate_index('$customer_idx') WHERE sample_query LIKE 'SELECT id, total FROM orders%'});
is($v, 'faster with the index|3|true|true', 'validate_index: the lookup measured faster with the index, 3 runs each way');
($ret, $out, $err) = $node->psql($db, qq{SELECT string_agg(sample_query, ' / ') FROM sdp.validate_index('$customer_idx')});
like($out, qr/^(?!.*(FOR UPDATE|DELETE)).*$/s, 'only plain SELECTs are run: no FOR UPDATE, no DELETE');
like($err, qr/NOTICE:  2 statements that use index "orders_customer_id_idx" write or lock rows, and were not run/,
	'... and the writes that use the index are counted in a NOTICE');
my $range = sql(q{SET random_page_cost = 0.01; SET enable_bitmapscan = off;
	SELECT verdict || ' (' || ms_with_index || ' ms with, ' || ms_without_index || ' ms without)'
	  FROM sdp.validate_index('app.orders_total_idx') WHERE sample_query LIKE '%total > 50%'});
diag("range index: $range");
like($range, qr/^(slower with the index|no measurable difference) /,
	'validate_index: the range index the planner likes does not measure faster');
is(sql('SELECT count(*) FROM app.orders'), $rows_before, 'nothing was written by the validation');
($ret, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.validate_index('app.events_pkey')});
is($out, '0', 'validate_index of an index no profiled statement uses: empty');
like($err, qr/NOTICE:  no profiled statement of this database is planned with index "events_pkey"/,
	'... with a NOTICE saying why');
($ret, $out, $err) = $node->psql($db, qq{SET smart_dairy_perf.query_samples = off;
	SELECT count(*) FROM sdp.validate_index('$customer_idx')});
like($err, qr/NOTICE:  no statement to run: smart_dairy_perf.query_samples is off/,
	'samples off: validation says it has nothing to run');
($ret, $out, $err) = $node->psql($db, q{SELECT * FROM sdp.validate_index('app.orders')});
like($err, qr/ERROR:  "orders" is not an index/, 'validate_index of a table: a clear error');

$node->stop;
done_testing();
