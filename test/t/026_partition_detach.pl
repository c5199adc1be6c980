# Retention without blocking: the background worker detaches expired
# partitions with DETACH PARTITION ... CONCURRENTLY as a top-level
# statement (reads and writes go on behind a long reader), drops them
# afterwards in drop mode, and finishes with FINALIZE a detach that was
# interrupted (its wait timed out, or the server was killed in the middle);
# where CONCURRENTLY is impossible (a default partition, the SQL function
# inside a transaction) a plain DETACH runs.  sdp.maintenance_log says
# which path ran.
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('partition_detach');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.maintenance_databases = 'postgres'
smart_dairy_perf.maintenance_interval = '1s'
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }

sub make_table
{
	my ($name, $options) = @_;
	sql(qq{CREATE TABLE $name (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('$name', '1 month', 1,
    start_at => date_trunc('month', now()) - interval '4 months' $options);
INSERT INTO $name SELECT g, now() - g * interval '1 day' FROM generate_series(0, 110) g;});
}
sub attached
{
	return sql(qq{SELECT count(*) FROM pg_inherits WHERE inhparent = '$_[0]'::regclass});
}
sub log_of
{
	my ($object_like, $action) = @_;
	return sql(qq{SELECT string_agg(status || ': ' || message, E'\n' ORDER BY id) FROM sdp.maintenance_log
		WHERE object LIKE '$object_like' AND action = '$action'});
}

sql(q{CREATE EXTENSION smart_dairy_perf});

# ---------------------------------------------------------------------
# 1. no default partition: the worker detaches concurrently
# ---------------------------------------------------------------------
make_table('views', q{, default_partition => false});
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'views'::regclass AND is_default}), '0',
	'default_partition => false: no default partition');
is(attached('views'), '6', 'four past months, this one and one ahead');
my $reader = $node->background_psql($db);
$reader->query_safe(q{BEGIN; SELECT count(*) FROM views});
sql(q{UPDATE sdp.partition_config SET retention = '2 months' WHERE parent = 'views'::regclass});
# the first expired partition is pending: the detach waits for the reader
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM pg_inherits
	WHERE inhparent = 'views'::regclass AND inhdetachpending}),
	'DETACH CONCURRENTLY ran its first transaction behind the long reader');
my $t0 = time;
sql(q{SET statement_timeout = '5s';
	INSERT INTO views VALUES (999, now()); SELECT count(*) FROM views; UPDATE views SET id = id WHERE id = 999});
cmp_ok(time - $t0, '<', 2, 'reads and writes on the table go on meanwhile');
$reader->query_safe('COMMIT');
$reader->quit;
ok($node->poll_query_until($db, q{SELECT count(*) = 2 FROM sdp.maintenance_log
	WHERE object LIKE 'public.views_p%' AND action = 'detach partition' AND status = 'ok'}),
	'once it ended both expired partitions were detached');
like(log_of('public.views_p%', 'detach partition'),
	qr/^ok: range \[.*\) ended before now\(\) - retention; DETACH PARTITION CONCURRENTLY\nok: .*DETACH PARTITION CONCURRENTLY$/,
	'the log says CONCURRENTLY ran');
is(attached('views'), '4', 'four partitions remain');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname LIKE 'views_p%' AND NOT relispartition}), '2',
	'the detached ones are tables of their own (detach mode)');

# ---------------------------------------------------------------------
# 2. drop mode: detached concurrently, then dropped
# ---------------------------------------------------------------------
make_table('clicks', q{, default_partition => false, retention => '2 months', retention_mode => 'drop'});
ok($node->poll_query_until($db, q{SELECT count(*) = 2 FROM sdp.maintenance_log
	WHERE object LIKE 'public.clicks_p%' AND action = 'drop partition' AND status = 'ok'}),
	'drop mode: the worker drops both expired partitions');
like(log_of('public.clicks_p%', 'drop partition'), qr/^ok: range .*: detached concurrently, then dropped\nok: /,
	'after detaching them concurrently');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname LIKE 'clicks_p%'}), '4', 'they are gone');

# ---------------------------------------------------------------------
# 3. where CONCURRENTLY is impossible: plain DETACH under the lock timeout
# ---------------------------------------------------------------------
make_table('audits', q{, retention => '2 months'});
ok($node->poll_query_until($db, q{SELECT count(*) = 2 FROM sdp.maintenance_log
	WHERE object LIKE 'public.audits_p%' AND action = 'detach partition' AND status = 'ok'}),
	'a table with a default partition is pruned by the worker too');
like(log_of('public.audits_p%', 'detach partition'),
	qr/^ok: .*plain DETACH PARTITION under lock_timeout \(a default partition exists\)\n/,
	'with a plain DETACH, and the log says why');
sql(q{ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = ''; SELECT pg_reload_conf()});
$node->poll_query_until($db, q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE application_name = 'smart_dairy_perf maintenance'});
make_table('orders', q{, default_partition => false, retention => '2 months'});
sql(q{SELECT * FROM sdp.run_partition_maintenance()});
like(log_of('public.orders_p%', 'detach partition'),
	qr/^ok: .*plain DETACH PARTITION under lock_timeout \(inside the caller's transaction\)\n/,
	'the SQL function runs inside a transaction: plain DETACH');
is(attached('orders'), '4', 'it detached both');

# ---------------------------------------------------------------------
# 4. an interrupted detach: the wait times out, FINALIZE at a later run
# ---------------------------------------------------------------------
make_table('events', q{, default_partition => false});
$reader = $node->background_psql($db);
$reader->query_safe(q{BEGIN; SELECT count(*) FROM events});
sql(q{UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'events'::regclass;
	ALTER SYSTEM SET smart_dairy_perf.detach_wait_timeout = '1s';
	ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = 'postgres'; SELECT pg_reload_conf()});
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public.events_p%' AND action = 'detach partition' AND status = 'skipped'
	  AND message LIKE 'DETACH PARTITION CONCURRENTLY interrupted%'}),
	'the wait for the reader timed out after the first transaction');
like(log_of('public.events_p%', 'detach partition'),
	qr/^skipped: DETACH PARTITION CONCURRENTLY interrupted after its first transaction \(canceling statement due to lock timeout\); finished with FINALIZE at the next run/,
	'logged as pending, to be finished next run');
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public.events_p%' AND action = 'detach partition' AND status = 'skipped'
	  AND message LIKE 'pending detach not finished: %'}),
	'while the reader stays, FINALIZE gives up after its short lock attempts');
$reader->query_safe('COMMIT');
$reader->quit;
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public.events_p%' AND action = 'detach partition' AND status = 'ok'
	  AND message LIKE '%a detach interrupted earlier finished with DETACH PARTITION ... FINALIZE'}),
	'then FINALIZE finishes it');
ok($node->poll_query_until($db, q{SELECT count(*) = 0 FROM pg_inherits
	WHERE inhparent = 'events'::regclass AND inhdetachpending}), 'nothing stays pending');

# ---------------------------------------------------------------------
# 4b. the first locks of DETACH CONCURRENTLY not had: retried, given up
# ---------------------------------------------------------------------
make_table('metrics', q{, default_partition => false});
my $ddl = $node->background_psql($db);
$ddl->query_safe(q{BEGIN; LOCK TABLE ONLY metrics IN SHARE UPDATE EXCLUSIVE MODE});
sql(q{UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'metrics'::regclass});
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public.metrics_p%' AND action = 'detach partition' AND status = 'skipped'}),
	'a session holding SHARE UPDATE EXCLUSIVE on the parent holds the concurrent detach up');
like(log_of('public.metrics_p%', 'detach partition'),
	qr/^skipped: canceling statement due to lock timeout \(6 attempts, lock_timeout 20 ms to 40 ms\); DETACH PARTITION CONCURRENTLY is tried again at the next run/,
	'its first locks were tried six times, then given up for the run');
is(sql(q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'metrics'::regclass AND inhdetachpending}), '0',
	'nothing was left pending');
$ddl->query_safe('COMMIT');
$ddl->quit;
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM sdp.maintenance_log
	WHERE object LIKE 'public.metrics_p%' AND action = 'detach partition' AND status = 'ok'}),
	'a later run detaches it');

# ---------------------------------------------------------------------
# 5. the server killed in the middle of DETACH CONCURRENTLY
# ---------------------------------------------------------------------
sql(q{ALTER SYSTEM SET smart_dairy_perf.detach_wait_timeout = '5min'; SELECT pg_reload_conf()});
make_table('sessions', q{, default_partition => false});
$reader = $node->background_psql($db);
$reader->query_safe(q{BEGIN; SELECT count(*) FROM sessions});
sql(q{UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'sessions'::regclass});
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM pg_inherits
	WHERE inhparent = 'sessions'::regclass AND inhdetachpending}), 'the detach is pending');
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE application_name = 'smart_dairy_perf maintenance' AND wait_event_type = 'Lock'
	  AND query LIKE '%DETACH PARTITION%CONCURRENTLY'}),
	'the worker waits in its second transaction');
$node->stop('immediate');
eval { $reader->{run}->kill_kill } if $reader->{run};
$node->start;
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public.sessions_p%' AND action = 'detach partition' AND status = 'ok'
	  AND message LIKE '%finished with DETACH PARTITION ... FINALIZE'}),
	'after the restart the next run finishes it with FINALIZE');
is(sql(q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'sessions'::regclass AND inhdetachpending}), '0',
	'nothing pending');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname LIKE 'sessions_p%' AND relispartition}), '5',
	'the finalized partition is a partition no more; the rest are attached');

$node->stop;
done_testing();
