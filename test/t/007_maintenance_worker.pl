# Background maintenance: the worker creates next month's partition and
# refreshes a due view by itself; a failing refresh is logged and the next
# still runs; a database without the extension gets one LOG line; SIGHUP
# changes the interval and the role; single flight with a manual run; a
# standby runs nothing; a killed worker comes back; a fast shutdown is fast
# even in the middle of a refresh.
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.maintenance_databases = 'dairy, plain_db'
smart_dairy_perf.maintenance_interval = '1s'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE dairy');
$node->safe_psql('postgres', 'CREATE DATABASE plain_db');
my $db = 'dairy';

sub sql { return $node->safe_psql($db, $_[0]); }

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE milk_records (farm int, recorded_at timestamptz NOT NULL, liters numeric)
    PARTITION BY RANGE (recorded_at);
CREATE TABLE orders (id int PRIMARY KEY, farm int, amount numeric);
INSERT INTO orders SELECT g, g % 5, g FROM generate_series(1, 100) g;
CREATE MATERIALIZED VIEW farm_sales AS
    SELECT farm, sum(amount) AS total, count(*) AS n FROM orders GROUP BY farm;
CREATE UNIQUE INDEX ON farm_sales (farm);
CREATE TABLE divisors (d int);
INSERT INTO divisors VALUES (1);
CREATE MATERIALIZED VIEW quotients AS SELECT 100 / d AS q FROM divisors;
});

# 1. next month's partition, created without anyone calling for it
sql(q{INSERT INTO sdp.partition_config (parent, partition_interval, premake)
    VALUES ('milk_records', '1 month', 1)});
ok($node->poll_query_until($db, q{
	SELECT to_regclass('milk_records_p' ||
	       to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY_MM')) IS NOT NULL}),
	"the worker created next month's partition");
like(sql(q{SELECT string_agg(DISTINCT action, ',') FROM sdp.maintenance_log WHERE object LIKE '%milk_records%'}),
	qr/create partition/, 'and logged it');

# 2. a due view refreshed by the worker
sql(q{SELECT sdp.register_matview('farm_sales', '1 second')});
sql(q{INSERT INTO orders VALUES (1000, 99, 5)});
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM farm_sales WHERE farm = 99}),
	'the worker refreshed the due view');
is(sql(q{SELECT mode || ':' || status FROM sdp.matview_refresh_history
       WHERE matview = 'public.farm_sales' ORDER BY id DESC LIMIT 1}),
	'concurrently:ok', 'concurrently, recorded in the history');

# 3. a failing refresh is logged and the next one still runs
sql(q{SELECT sdp.register_matview('quotients', '1 second')});
sql(q{INSERT INTO divisors VALUES (0)});
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.matview_refresh_history
	WHERE matview = 'public.quotients' AND status = 'error' AND error = 'division by zero'}),
	'the failed refresh is in the history');
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object = 'public.quotients' AND status = 'error'}), 'and in the maintenance log');
sql(q{INSERT INTO orders VALUES (1001, 98, 5)});
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM farm_sales WHERE farm = 98}),
	'other views are still refreshed');
sql(q{DELETE FROM divisors WHERE d = 0});
ok($node->poll_query_until($db, q{SELECT last_status = 'ok' FROM sdp.matviews
	WHERE matview = 'quotients'::regclass}), 'the failing view refreshes again once fixed');
like(slurp_file($node->logfile), qr/refresh of materialized view "public\.quotients" failed\n.*DETAIL:  division by zero/,
	'the failure is in the server log');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'dairy'}), 1,
	'one worker serves the database throughout');

# 4. a database without the extension: one LOG line, not one per interval
sleep(3);
my @skips = (slurp_file($node->logfile) =~ /skipping maintenance of database "plain_db"/g);
is(scalar(@skips), 1, 'one LOG line for the database without the extension');
# installed at 1.0 (no maintenance entry point yet), then updated
$node->safe_psql('plain_db', q{CREATE EXTENSION smart_dairy_perf VERSION '1.0'});
my $too_old = 0;
for (1 .. 50)
{
	$too_old = () = slurp_file($node->logfile) =~ /database "plain_db": the extension is older than 1\.3/g;
	last if $too_old;
	sleep(0.2);
}
is($too_old, 1, 'an old extension version is reported once');
$node->safe_psql('plain_db', q{ALTER EXTENSION smart_dairy_perf UPDATE TO '1.1'});
is($node->safe_psql('plain_db', q{SELECT extversion FROM pg_extension WHERE extname = 'smart_dairy_perf'}),
	'1.1', 'the update script to 1.1 applies');
# the library answers 1.1's advisor, whose SQL declares one column fewer
$node->safe_psql('plain_db', q{CREATE TABLE adv (id int, b int);
	INSERT INTO adv SELECT g, g % 1000 FROM generate_series(1, 50000) g; ANALYZE adv});
$node->safe_psql('plain_db', q{SELECT count(*) FROM adv WHERE b = 7}) for 1 .. 3;
is($node->safe_psql('plain_db', q{SELECT columns || ' ' || ddl FROM sdp.recommend_indexes()}),
	'b CREATE INDEX CONCURRENTLY adv_b_idx ON public.adv (b);', 'the 1.1 advisor still answers');
$node->safe_psql('plain_db', 'ALTER EXTENSION smart_dairy_perf UPDATE');
is($node->safe_psql('plain_db', q{SELECT extversion FROM pg_extension WHERE extname = 'smart_dairy_perf'}),
	'1.3', 'the update scripts to 1.2 and 1.3 apply');
is($node->safe_psql('plain_db', q{SELECT columns || ' ' || ddl FROM sdp.recommend_indexes()}),
	'b CREATE INDEX CONCURRENTLY adv_b_idx ON public.adv (b);', 'and the 1.3 advisor the same');
ok($node->poll_query_until('plain_db', q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE action = 'partition maintenance'}), 'maintenance starts once it is up to date');

# 5. SIGHUP: a longer interval applies at once, a shorter one too
$node->safe_psql('postgres', q{ALTER SYSTEM SET smart_dairy_perf.maintenance_interval = '1h'});
$node->reload;
ok($node->poll_query_until($db, q{SELECT next_run > now() + interval '30 minutes'
	FROM sdp.maintenance_workers WHERE database = 'dairy'}), 'the new interval is used');
sleep(1);
my $runs = sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE action = 'log retention'});
sleep(3);
is(sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE action = 'log retention'}), $runs,
	'no run during the long interval');
$node->safe_psql('postgres', q{ALTER SYSTEM SET smart_dairy_perf.maintenance_interval = '1s'});
$node->reload;
ok($node->poll_query_until($db, qq{SELECT count(*) >= $runs + 2 FROM sdp.maintenance_log
	WHERE action = 'log retention'}), 'back to one run a second after SIGHUP');

# 6. a new maintenance_role: the worker reconnects as that role
$node->safe_psql('postgres', q{CREATE ROLE dairy_maint LOGIN SUPERUSER});
$node->safe_psql('postgres', q{ALTER SYSTEM SET smart_dairy_perf.maintenance_role = 'dairy_maint'});
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT usename = 'dairy_maint' FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'dairy'}),
	'the worker runs as the new role');

# a database taken off the list loses its worker at the reload
$node->safe_psql('postgres', q{ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = 'dairy'});
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'plain_db'}),
	'the worker of a database removed from the list stops');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'dairy'}), 1,
	'the other keeps running');

# 7. single flight: while a manual run holds the lock, the worker skips
my $manual = $node->background_psql($db);
for (1 .. 50)
{
	# the worker may hold the lock at this instant: then this run skips
	$manual->query_safe('BEGIN');
	last unless $manual->query_safe(q{SELECT string_agg(status, ',') FROM sdp.run_maintenance()}) =~ /skipped/;
	$manual->query_safe('ROLLBACK');
}
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE status = 'skipped' AND message LIKE 'another maintenance run%'}),
	'the worker skips while a manual run is in progress');
$manual->query_safe('COMMIT');
$manual->quit;
like(sql(q{SELECT string_agg(status, ',') FROM sdp.run_maintenance()}), qr/^(ok|error)(,(ok|error))*$|skipped/,
	'a manual run afterwards works');

# 8. a hot standby runs nothing
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
sleep(3);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type LIKE 'smart_dairy_perf%'}), 0, 'no launcher or worker on the standby');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance'}), 1, 'while the primary has its worker');
# the launcher has no database connection, so it is looked for by its
# process title (cluster_name is the node's name)
# (children of each node's own postmaster: other clusters on the machine
# may have the same names)
sub children_titles
{
	my ($n) = @_;
	my ($pm) = split /\n/, slurp_file($n->data_dir . '/postmaster.pid');
	return split /\n/, `ps -o args= --ppid $pm`;
}
is(scalar(grep { /^postgres: standby: smart_dairy_perf/ } children_titles($standby)), 0,
	'no launcher process on the standby');
is(scalar(grep { /^postgres: worker: smart_dairy_perf launcher/ } children_titles($node)), 1,
	'one on the primary');
unlike(slurp_file($standby->logfile), qr/skipping maintenance|maintenance step/,
	'the standby logs nothing about maintenance');
my ($ret, $out, $err) = $standby->psql($db, 'SELECT * FROM sdp.run_maintenance()');
like($err, qr/maintenance cannot run while the server is in recovery/, 'a manual run is refused there');
$standby->stop;

# 9. a killed worker is back after the crash restart
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'dairy'});
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'dairy' AND pid <> $pid}),
	'the worker is restarted after a crash');
ok($node->poll_query_until($db, q{SELECT last_run_finished IS NOT NULL FROM sdp.maintenance_workers
	WHERE database = 'dairy'}), 'and runs again');

# 10. a fast shutdown in the middle of a long refresh is fast
sql(q{
CREATE TABLE slow_switch (on_ boolean);
INSERT INTO slow_switch VALUES (false);
CREATE MATERIALIZED VIEW slow_report AS
    SELECT count(*) AS n FROM orders, slow_switch s,
           LATERAL pg_sleep(CASE WHEN s.on_ THEN 60 ELSE 0 END);
SELECT sdp.register_matview('slow_report', '1 second');
UPDATE slow_switch SET on_ = true;
});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'dairy'
	  AND wait_event = 'PgSleep'}), 'the worker is inside the long refresh');
my $t0 = time();
$node->stop('fast');
my $elapsed = time() - $t0;
cmp_ok($elapsed, '<', 5, sprintf('fast shutdown took %.2f s', $elapsed));
diag(sprintf('fast shutdown in the middle of a refresh: %.2f s', $elapsed));
unlike(slurp_file($node->logfile), qr/PANIC|terminated by signal 11/, 'no crash');

done_testing();
