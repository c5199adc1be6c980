# On a hot standby: reporting workloads often run on read replicas.  A
# streaming standby with the library preloaded profiles its own workload,
# samples predicates, gives index advice for it (what the replica's
# queries need, built on the primary), validates an index, reports and
# publishes metrics; sdp.snapshot() says where snapshots can be taken; a
# standby started without the library says how to fix that.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.predicate_sample_rate = 1
});
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION smart_dairy_perf;
CREATE SCHEMA reporting;
CREATE TABLE reporting.sales (id int PRIMARY KEY, farm_id int NOT NULL, day date NOT NULL, liters numeric);
INSERT INTO reporting.sales SELECT g, 1 + g % 2000, date '2024-01-01' + g % 700, g % 40
  FROM generate_series(1, 200000) g;
CREATE TABLE reporting.farms (id int PRIMARY KEY, region text);
INSERT INTO reporting.farms SELECT g, 'r' || g % 9 FROM generate_series(1, 2000) g;
CREATE INDEX farms_region ON reporting.farms (region);
VACUUM ANALYZE;
});
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
sub sby { return $standby->safe_psql('postgres', $_[0]); }
is(sby('SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# the replica's own reporting workload, as its application runs it
my $script = $standby->basedir . '/report.sql';
open my $fh, '>', $script or die $!;
print $fh <<'W';
\set farm random(1, 2000)
SELECT sum(liters) FROM sales WHERE farm_id = :farm;
SELECT count(*) FROM farms WHERE region = 'r3';
W
close $fh;
my $result = `PGOPTIONS='-c search_path=reporting' pgbench -n -c 2 -j 2 -T 5 -f $script -h @{[$standby->host]} -p @{[$standby->port]} postgres 2>&1`;
like($result, qr/tps = /, 'the reporting workload ran on the standby');

is(sby(q{SELECT calls > 10 FROM sdp.query_stats WHERE query LIKE 'SELECT sum(liters) FROM sales%'}),
	't', 'the standby profiles its own statements');
is(sby(q{SELECT search_path FROM sdp.query_samples WHERE sample_query LIKE 'SELECT sum(liters) FROM sales%'}),
	'reporting', '... with the search_path they ran under');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM sdp.query_stats WHERE query LIKE 'SELECT sum(liters)%'}),
	'0', '... which are not the primary\'s');
cmp_ok(sby(q{SELECT count(*) FROM sdp.observed_predicates WHERE table_name = 'sales'}), '>', 0,
	'predicates are sampled on the standby');

my ($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT "table" || ' (' || columns || ')' FROM sdp.recommend_indexes()});
is($out, 'reporting.sales (farm_id)', 'advice on the standby: what its workload needs');
like($err, qr/index advisor planned 3 of 3 profiled statements \(100.0 % of their time\)$/m, '... with its coverage NOTICE');
like(sby(q{SELECT sdp.report('text')}), qr/Recommended indexes.*sales.*Index advisor coverage/s,
	'the report runs on the standby');
like(sby(q{SELECT sdp.metrics()}), qr/sdp_profiler_entries \d+/, 'the metrics run on the standby');

# validation and hiding are session state and rolled-back reads: fine on a standby
like(sby(q{SELECT verdict FROM sdp.validate_index('reporting.farms_region')}),
	qr/^(faster with the index|slower with the index|no measurable difference)$/,
	'validate_index runs on the standby');
like(sby(q{SELECT sdp.hide_index('reporting.farms_region');
	EXPLAIN (COSTS OFF) SELECT count(*) FROM reporting.farms WHERE region = 'r3'}),
	qr/^t\n.*Seq Scan on farms/s, 'hide_index works on the standby');

# snapshots are rows, and a standby cannot write them
($ret, $out, $err) = $standby->psql('postgres', q{SELECT sdp.snapshot('on the replica')});
like($err, qr/ERROR:  cannot take a snapshot on a hot standby/, 'sdp.snapshot() on a standby: a clear error');
like($err, qr/HINT:  Take snapshots on the primary/, '... saying where to take them');
is($primary->safe_psql('postgres', q{SELECT sdp.snapshot('on the primary') > 0}), 't',
	'the primary takes snapshots');

# the advice built on the primary serves the replica
$primary->safe_psql('postgres', q{CREATE INDEX sales_farm_id_idx ON reporting.sales (farm_id)});
$primary->wait_for_catchup($standby);
like(sby(q{EXPLAIN (COSTS OFF) SELECT sum(liters) FROM reporting.sales WHERE farm_id = 7}),
	qr/sales_farm_id_idx/, 'the index built on the primary is used on the standby');
($ret, $out, $err) = $standby->psql('postgres', q{SELECT count(*) FROM sdp.recommend_indexes()});
is($out, '0', 'and the standby\'s advice is then empty');

# a standby started without the library
$standby->stop;
$standby->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$standby->start;
($ret, $out, $err) = $standby->psql('postgres', q{SELECT * FROM sdp.recommend_indexes()});
like($err, qr/ERROR:  smart_dairy_perf must be loaded via "shared_preload_libraries"/,
	'a standby without the library preloaded: a clear error');
like($err, qr/HINT:  Add smart_dairy_perf to shared_preload_libraries/, '... saying how to fix it');

$standby->stop;
$primary->stop;
done_testing();
