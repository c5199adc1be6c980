# pgbench with 8 clients while another session resets the statistics in a
# loop: no error in any client, no crash, and consistent counters after.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
max_connections = 30
smart_dairy_perf.max_queries = 100
smart_dairy_perf.slow_query_ms = 0
smart_dairy_perf.max_slow_queries = 50
smart_dairy_perf.plan_capture = slow_analyze
smart_dairy_perf.plan_sample_rate = 0.5
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION smart_dairy_perf');
$node->command_ok([ 'pgbench', '-i', '-q', '-s', '1', '-p', $node->port, '-h', $node->host, 'postgres' ],
	'pgbench -i');

# many shapes, so that eviction runs concurrently with the resets too
my $script = $node->basedir . '/mixed.sql';
open my $fh, '>', $script or die $!;
print $fh <<'SQL';
\set aid random(1, 100000)
\set n random(1, 300)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
SELECT count(*) FROM pgbench_accounts WHERE aid BETWEEN :aid AND :aid + 10;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
SELECT 'SELECT ' || repeat('1, ', :n) || '1' AS q \gset
:q;
SQL
close $fh;

my $log_offset = -s $node->logfile;
my ($out, $err) = ('', '');
my @bench = (
	'pgbench', '-n', '-c', '8', '-j', '2', '-T', '8', '-M', 'simple',
	'-f', $script, '-p', $node->port, '-h', $node->host, 'postgres');
my $h = IPC::Run::start(\@bench, '>', \$out, '2>', \$err);

my $resets = 0;
my $deadline = time() + 8;
while (time() < $deadline)
{
	$node->safe_psql('postgres',
		'SELECT sdp.reset(); SELECT count(*) FROM sdp.query_stats; SELECT count(*) FROM sdp.slow_queries');
	$resets++;
}
IPC::Run::finish($h);
is($h->result(0), 0, 'pgbench finished without error') or diag($err);
unlike($err, qr/ERROR|FATAL/, 'no client saw an error');
cmp_ok($resets, '>', 10, "stats were reset $resets times during the run");

my $log = substr(slurp_file($node->logfile), $log_offset);
unlike($log, qr/PANIC|terminated by signal|server process .* was terminated/,
	'no crash in the server log');

# the run after the last reset is counted consistently
$node->command_ok(
	[ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', '50', '-S', '-M', 'prepared',
	  '-p', $node->port, '-h', $node->host, 'postgres' ],
	'second pgbench run (prepared)');
$node->safe_psql('postgres', 'SELECT sdp.reset()');
$node->command_ok(
	[ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', '50', '-S', '-M', 'prepared',
	  '-p', $node->port, '-h', $node->host, 'postgres' ],
	'third pgbench run after reset');
is( $node->safe_psql('postgres',
		"SELECT sum(calls) FROM sdp.query_stats WHERE query LIKE 'SELECT abalance FROM pgbench_accounts%'"),
	400,
	'8 clients x 50 transactions counted exactly');

$node->stop;
done_testing();
