# Without shared_preload_libraries, CREATE EXTENSION works and every
# profiler view and function fails with an error that says how to fix it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;

is($node->psql('postgres', 'CREATE EXTENSION smart_dairy_perf'),
	0, 'CREATE EXTENSION works without preloading');

for my $sql ('SELECT * FROM sdp.query_stats', 'SELECT * FROM sdp.query_totals',
	'SELECT * FROM sdp.slow_queries', 'SELECT * FROM sdp.profiler_info',
	'SELECT sdp.reset()', 'SELECT sdp.reset(42)')
{
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	isnt($ret, 0, "$sql fails");
	like($err, qr/smart_dairy_perf must be loaded via "shared_preload_libraries"/,
		"$sql: says what is wrong");
	like($err, qr/HINT:  Add smart_dairy_perf to shared_preload_libraries/,
		"$sql: says how to fix it");
}

# ordinary queries are not affected by the loaded-but-inactive library
is($node->safe_psql('postgres', 'SELECT 40 + 2'), '42', 'queries still run');

# the partition manager needs no shared memory: it works without preloading
is( $node->safe_psql('postgres', q{
	CREATE TABLE milk_records (farm int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
	SELECT count(*) FROM sdp.manage_partitions('milk_records', '1 month', 2)}),
	4, 'manage_partitions works without preloading (default + current + 2)');
# a fresh session that has not loaded the library yet still reads the view
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM sdp.partitions WHERE parent = 'milk_records'::regclass}),
	4, 'sdp.partitions works in a session that has not loaded the library');

$node->stop;
done_testing();
