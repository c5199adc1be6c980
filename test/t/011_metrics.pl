# sdp.metrics(): the Prometheus text format, checked with the reference
# parser (python3-prometheus-client, test/prometheus_check.py) on a server
# with real statements, an N+1 loop, a managed partitioned table and a
# registered materialized view; label values with quotes and backslashes
# are escaped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;

my $node = PostgreSQL::Test::Cluster->new('metrics');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'smart_dairy_perf'});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE products (id int PRIMARY KEY, farm_id int, price numeric);
INSERT INTO products SELECT g, g % 10, g FROM generate_series(1, 1000) g;
CREATE TABLE "page ""views""\x" (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('"page ""views""\x"', '1 month', 2);
CREATE MATERIALIZED VIEW farm_prices AS SELECT farm_id, sum(price) FROM products GROUP BY farm_id;
SELECT sdp.register_matview('farm_prices', '1 hour');
SELECT count(*) FROM sdp.refresh_matviews();
});
# statements of several speeds, and an N+1 loop in a transaction
$node->safe_psql($db, 'SELECT price FROM products WHERE id = ' . $_) for 1 .. 20;
$node->safe_psql($db, 'SELECT pg_sleep(0.02)') for 1 .. 3;
$node->safe_psql($db, 'BEGIN; SELECT count(*) FROM products;'
	. join('', map { "SELECT price FROM products WHERE id = $_;" } 1 .. 15) . 'COMMIT;');

my $metrics = $node->safe_psql($db, 'SELECT sdp.metrics()');
my $out = run_check($metrics);
like($out, qr/^sdp_query_exec_seconds histogram \d+$/m, 'a valid latency histogram');
like($out, qr/^sdp_query_calls counter \d+$/m, 'query call counters');
like($out, qr/^sdp_nplus1_bursts counter [1-9]/m, 'the N+1 loop');
like($out, qr/^sdp_partitions_ahead gauge 1$/m, 'partitions ahead per managed table');
like($out, qr/^sdp_matview_staleness_seconds gauge 1$/m, 'matview staleness');
like($out, qr/^sdp_connections gauge [1-9]/m, 'connections');
like($out, qr/^sdp_profiler_evictions counter 1$/m, 'profiler evictions');
like($metrics, qr/^sdp_partitions_ahead\{parent="public\.\\"page \\"\\"views\\"\\"\\\\x\\""\} 2$/m,
	'a table name with quotes and a backslash is escaped in its label');
like($metrics, qr/^sdp_query_exec_seconds_bucket\{datname="postgres",queryid="-?\d+",le="0.025"\} 3$/m,
	'the three 20 ms sleeps fall under the 25 ms bucket');
like($metrics, qr/^sdp_partitions_missing\{parent=[^}]+\} 0$/m, 'no partition missing');

sub run_check
{
	my ($text) = @_;
	my $file = $node->basedir . '/metrics.txt';
	open my $fh, '>', $file or die $!;
	print $fh $text, "\n";
	close $fh;
	my $result = `/usr/bin/python3 $FindBin::Bin/../prometheus_check.py < $file 2>&1`;
	is($?, 0, 'the reference parser accepts the exposition') or diag($result);
	return $result;
}

$node->stop;
done_testing();
