# Partition maintenance under concurrency: two runs at once never act on the
# same parent (the second skips it), a parent whose lock cannot be had within
# lock_timeout is given up for the run and logged while the others are
# maintained, rows waiting in the default partition move,
# and a session running maintenance from pg_cron-like loops stays correct.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('partitions');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE page_views (id bigint, viewed_at timestamptz NOT NULL, path text) PARTITION BY RANGE (viewed_at);
CREATE TABLE audit_logs (id bigint, logged_at timestamptz NOT NULL, msg text) PARTITION BY RANGE (logged_at);
SELECT count(*) FROM sdp.manage_partitions('page_views', '1 month', 2);
SELECT count(*) FROM sdp.manage_partitions('audit_logs', '1 month', 2);
});

sub partition_count
{
	my ($parent) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM sdp.partitions WHERE parent = '$parent'::regclass AND NOT is_default");
}

# 1. two maintenance runs at once: the second skips what the first holds
$node->safe_psql($db, q{UPDATE sdp.partition_config SET premake = 4});
my $first = $node->background_psql($db);
$first->query_safe('BEGIN');
my $first_out = $first->query_safe(
	q{SELECT string_agg(parent || ':' || action || ':' || status, ',' ORDER BY parent, action)
	    FROM sdp.run_partition_maintenance()});
like($first_out, qr/audit_logs:create partitions:ok.*page_views:create partitions:ok/,
	'first run maintains both parents');
my $second = $node->safe_psql($db,
	q{SELECT string_agg(parent || ':' || status, ',' ORDER BY parent) FROM sdp.run_partition_maintenance()});
is($second, 'audit_logs:skipped,page_views:skipped',
	'a second run at the same time skips both parents');
$first->query_safe('COMMIT');
$first->quit;
is(partition_count('page_views'), 5, 'the first run created the partitions (current + 4)');
is($node->safe_psql($db, q{SELECT count(*) FROM sdp.maintenance_log WHERE status = 'skipped'}),
	2, 'the skips are logged');

# 2. lock_timeout: a parent locked by a long transaction is given up for
#    this run alone (the session's shorter lock_timeout is kept)
$node->safe_psql($db, q{UPDATE sdp.partition_config SET premake = 5});
my $locker = $node->background_psql($db);
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE page_views IN ACCESS EXCLUSIVE MODE');
my $t0 = time();
my $result = $node->safe_psql($db, q{
	SET lock_timeout = '300ms';
	SET client_min_messages = error;
	SELECT string_agg(parent || ':' || action || ':' || status, ',' ORDER BY parent, action)
	  FROM sdp.run_partition_maintenance()});
cmp_ok(time() - $t0, '<', 20, 'the run did not wait for the lock holder');
like($result, qr/audit_logs:create partitions:ok/, 'the other parent was maintained');
like($result, qr/page_views:maintenance:skipped/, 'the locked parent was given up for this run');
like($node->safe_psql($db,
	q{SELECT message FROM sdp.maintenance_log WHERE object = 'page_views' AND status = 'skipped'
	   AND action = 'maintenance'}),
	qr/lock timeout.*tried again at the next run/, 'and that is logged with its reason');
is(partition_count('audit_logs'), 6, 'audit_logs got its new partition');
is(partition_count('page_views'), 5, 'page_views unchanged while locked');
$locker->query_safe('COMMIT');
$locker->quit;
$node->safe_psql($db, 'SELECT * FROM sdp.run_partition_maintenance()');
is(partition_count('page_views'), 6, 'the next run catches up');

# 3. rows inserted into the default partition meanwhile are moved, not
#    lost; the detached partition keeps its name, the new one is numbered
my $month = $node->safe_psql($db, q{SELECT to_char(now() + interval '2 months', 'YYYY_MM')});
$node->safe_psql($db, "ALTER TABLE page_views DETACH PARTITION page_views_p$month");
$node->safe_psql($db, q{INSERT INTO page_views SELECT g, date_trunc('month', now() + interval '2 months')
	+ g * interval '1 minute', '/p' FROM generate_series(1, 500) g});
is($node->safe_psql($db, 'SELECT count(*) FROM ONLY page_views_default'), 500, 'the rows wait in the default');
$node->safe_psql($db, 'SELECT * FROM sdp.run_partition_maintenance()');
is($node->safe_psql($db, 'SELECT count(*) FROM ONLY page_views_default'), 0, 'default emptied');
is($node->safe_psql($db, 'SELECT count(*) FROM page_views'), 500, 'no row lost');
is($node->safe_psql($db, "SELECT count(*) FROM ONLY page_views_p${month}_1"), 500,
	'they are in the new partition, named with a suffix');
# far ahead of the premake window: they stay, with a warning
$node->safe_psql($db, q{INSERT INTO page_views SELECT g, now() + interval '3 years', '/p' FROM generate_series(1, 5) g});
my ($rc, $out, $err) = $node->psql($db, 'SELECT count(*) FROM sdp.run_partition_maintenance()');
like($err, qr/5 rows of table "page_views" stay in its default partition/, 'rows 3 years ahead stay, with a warning');
is($node->safe_psql($db, 'SELECT count(*) FROM ONLY page_views_default'), 5, 'in the default partition');
$node->safe_psql($db, q{DELETE FROM ONLY page_views_default});

# 4. many maintenance runs concurrently with writers: no errors, no lost rows
my $script = $node->basedir . '/writer.sql';
open my $fh, '>', $script or die $!;
print $fh "INSERT INTO audit_logs VALUES (1, now() - random() * interval '20 days', 'x');\n";
close $fh;
my $maint = $node->basedir . '/maint.sql';
open $fh, '>', $maint or die $!;
print $fh "SELECT count(*) FROM sdp.run_partition_maintenance();\n";
close $fh;
$node->command_ok([ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', '200', '-f', $script,
	'-h', $node->host, '-p', $node->port, $db ], 'writers');
$node->command_ok([ 'pgbench', '-n', '-c', '3', '-j', '1', '-t', '20', '-f', $maint,
	'-h', $node->host, '-p', $node->port, $db ], 'concurrent maintenance runs');
is($node->safe_psql($db, 'SELECT count(*) FROM audit_logs'), 800, 'every written row is there');
is($node->safe_psql($db, q{SELECT count(*) FROM sdp.maintenance_log WHERE status = 'error'}),
	0, 'no maintenance errors');

$node->stop;
done_testing();
