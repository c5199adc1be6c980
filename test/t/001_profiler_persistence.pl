# Statistics survive a clean restart, are discarded after a crash, and a
# damaged or foreign statistics file gives a LOG line and an empty start.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('persist');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION smart_dairy_perf');

my $stats_file = $node->data_dir . '/pg_stat/smart_dairy_perf.stat';

sub calls_of
{
	my ($alias) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(calls), 0) FROM sdp.query_stats WHERE query LIKE '%AS $alias'"
	);
}

# Each label gets its own shape (aliases are not part of the query id, the
# number of columns is): kept_col has 1 column, crash_col 2, and so on.
my %width = (kept_col => 1, crash_col => 2, trunc_col => 3, version_col => 4,
	nosave_col => 5);

sub run_times
{
	my ($alias, $n) = @_;
	my $cols = join(', ', (7) x ($width{$alias} - 1), '$n');
	$node->safe_psql('postgres',
		join(';', map { (my $c = $cols) =~ s/\$n/$_/; "SELECT $c AS $alias" } 1 .. $n));
}

run_times('kept_col', 5);
is(calls_of('kept_col'), 5, 'five calls counted');
my $p99_before = $node->safe_psql('postgres',
	"SELECT p99_exec_time FROM sdp.query_stats WHERE query LIKE '%AS kept_col'");

# clean restart keeps everything, histogram included
$node->restart;
is(calls_of('kept_col'), 5, 'calls survive a clean restart');
is( $node->safe_psql('postgres',
		"SELECT p99_exec_time FROM sdp.query_stats WHERE query LIKE '%AS kept_col'"),
	$p99_before,
	'percentiles survive a clean restart');
ok(!-e $stats_file, 'statistics file removed once loaded');
like(slurp_file($node->logfile), qr/restored statistics of \d+ queries/,
	'restore is logged');

# crash: kill -9 a backend; the postmaster reinitializes, stats start empty
run_times('crash_col', 3);
my $sleeper = $node->background_psql('postgres');
my $pid = $sleeper->query_safe('SELECT pg_backend_pid()');
$sleeper->query_until(qr/sleeping/, "\\echo sleeping\nSELECT pg_sleep(60);\n");
kill 'KILL', $pid;
eval { $sleeper->quit; };
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
is(calls_of('kept_col'), 0, 'statistics discarded after a crash');
is(calls_of('crash_col'), 0, 'nothing from before the crash');
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'it really crashed');

# a truncated file: LOG line and an empty start, never a failed start
run_times('trunc_col', 2);
$node->stop;
ok(-s $stats_file, 'statistics written at clean shutdown');
truncate($stats_file, (-s $stats_file) - 10) or die "truncate: $!";
my $log_offset = -s $node->logfile;
$node->start;
is(calls_of('trunc_col'), 0, 'truncated file ignored');
like(substr(slurp_file($node->logfile), $log_offset),
	qr/ignoring saved statistics .* truncated/, 'truncation logged');

# a file from another version of the format
run_times('version_col', 2);
$node->stop;
{
	open my $fh, '+<:raw', $stats_file or die "open: $!";
	seek $fh, 4, 0;
	print $fh pack('L', 999);
	close $fh;
}
$log_offset = -s $node->logfile;
$node->start;
is(calls_of('version_col'), 0, 'foreign version ignored');
like(substr(slurp_file($node->logfile), $log_offset),
	qr/written by another version/, 'foreign version logged');

# garbage instead of a file
$node->stop;
{
	open my $fh, '>:raw', $stats_file or die "open: $!";
	print $fh 'x' x 7;
	close $fh;
}
$node->start;
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'garbage file: server starts');

# save = off: nothing written at shutdown
run_times('nosave_col', 2);
$node->append_conf('postgresql.conf', 'smart_dairy_perf.save = off');
$node->reload;
$node->stop;
ok(!-e $stats_file, 'no file with save = off');
$node->start;
is(calls_of('nosave_col'), 0, 'empty start with save = off');

$node->stop;
done_testing();
