# Maintenance scheduled through pg_cron (Debian's postgresql-15-cron):
# sdp.schedule_maintenance() registers one named job, scheduling again
# replaces its schedule, the job runs sdp.run_maintenance() (a partition
# is created and a due view refreshed by cron, not by us), and
# sdp.unschedule_maintenance() removes it.  pg_cron 1.4 schedules by the
# minute, so this test waits for up to one minute.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
});
$node->start;
my $db = 'postgres';

sub sql { return $node->safe_psql($db, $_[0]); }

sql(q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE page_views (id bigint, viewed_at timestamptz NOT NULL, path text)
    PARTITION BY RANGE (viewed_at);
INSERT INTO sdp.partition_config (parent, partition_interval, premake)
VALUES ('page_views', '1 month', 1);
CREATE TABLE products (id int PRIMARY KEY, price numeric);
INSERT INTO products SELECT g, g FROM generate_series(1, 10) g;
CREATE MATERIALIZED VIEW price_summary AS SELECT count(*) AS n, sum(price) AS total FROM products;
SELECT sdp.register_matview('price_summary', '1 second');
INSERT INTO products VALUES (11, 100);
});

my $job = sql(q{SELECT sdp.schedule_maintenance('*/5 * * * *')});
like($job, qr/^\d+$/, 'schedule_maintenance returns the job id');
is(sql(q{SELECT schedule || '|' || command || '|' || database FROM cron.job WHERE jobid = } . $job),
	'*/5 * * * *|SELECT * FROM sdp.run_maintenance()|postgres', 'the job runs maintenance in this database');
is(sql(q{SELECT sdp.schedule_maintenance('* * * * *')}), $job, 'scheduling again keeps one job');
is(sql(q{SELECT count(*) || ':' || min(schedule) FROM cron.job}), '1:* * * * *', 'with the new schedule');

ok($node->poll_query_until($db, qq{SELECT count(*) > 0 FROM cron.job_run_details
	WHERE jobid = $job AND status = 'succeeded'}), 'pg_cron ran the job');
is(sql(q{SELECT string_agg(action || ':' || status, ',' ORDER BY id) FROM sdp.maintenance_log
	WHERE object LIKE 'database %'}),
	'refresh materialized views:ok,partition maintenance:ok,snapshot:ok,log retention:ok', 'every step ran');
is(sql(q{SELECT n FROM price_summary}), 11, 'the due view was refreshed by the job');
is(sql(q{SELECT to_regclass('page_views_p' ||
	to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY_MM')) IS NOT NULL}),
	't', "next month's partition was created by the job");

is(sql(q{SELECT sdp.unschedule_maintenance()}), 't', 'unschedule_maintenance removes the job');
is(sql(q{SELECT count(*) FROM cron.job}), 0, 'no job left');
my ($ret, $out, $err) = $node->psql($db, q{SELECT sdp.unschedule_maintenance()});
like($err, qr/no smart_dairy_perf maintenance job is scheduled.*\n.*HINT:  Schedule it with sdp.schedule_maintenance/s,
	'unscheduling twice explains itself');
($ret, $out, $err) = $node->psql($db, q{SELECT sdp.schedule_maintenance('')});
like($err, qr/schedule must not be empty/, 'an empty schedule is refused');

$node->stop;
done_testing();
