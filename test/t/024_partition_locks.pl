# Partition maintenance never queues the workload behind a long reader:
# a lock not had within the short timeout is retried with growing timeouts
# and backoff, then the table is given up for this run with a log row while
# the other tables are maintained, and a query arriving meanwhile waits at
# most about the short timeout.  Retention refuses a partition a foreign key
# references (or, dropping, a view depends on), naming it, unless the
# configuration says to keep it.  Month boundaries follow the table's own
# time zone across daylight-saving changes.
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('partition_locks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE busy (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE quiet (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('busy', premake => 2);
SELECT count(*) FROM sdp.manage_partitions('quiet', premake => 2);
});
is(sql(q{SHOW smart_dairy_perf.maintenance_lock_timeout}), '20ms', 'the first lock attempt waits 20 ms');

# ---------------------------------------------------------------------
# 1. retried, given up with a log row, the other parent proceeds
# ---------------------------------------------------------------------
my $reader = $node->background_psql($db);
$reader->query_safe(q{BEGIN; SELECT count(*) FROM busy});
sql(q{UPDATE sdp.partition_config SET premake = 4});

my $t0 = time;
my $result = sql(q{SET client_min_messages = error;
	SELECT string_agg(parent || ':' || action || ':' || status, ',' ORDER BY parent, action)
	  FROM sdp.run_partition_maintenance()});
my $elapsed = time - $t0;
like($result, qr/busy:maintenance:skipped/, 'busy is given up for this run');
like($result, qr/quiet:create partitions:ok/, 'quiet is maintained in the same run');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'quiet'::regclass AND NOT is_default}), '5',
	'quiet got its two new partitions');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'busy'::regclass AND NOT is_default}), '3',
	'busy got none (its default partition is held by the reader)');
my $msg = sql(q{SELECT message FROM sdp.maintenance_log WHERE object = 'busy' AND action = 'maintenance'
	AND status = 'skipped' ORDER BY id DESC LIMIT 1});
like($msg, qr/^create partitions: canceling statement due to lock timeout \(6 attempts, lock_timeout 20 ms to 40 ms\); the table is tried again at the next run/,
	'the log row says how often it was tried and how long each attempt waited');
# five backoffs of 40, 80, 160, 320, 640 ms times [0.5, 1.5), plus the waits
cmp_ok($elapsed, '>', 0.6, "the retries took their backoff ($elapsed s)");
cmp_ok($elapsed, '<', 10, 'and the run did not wait for the reader');

# a query arriving while maintenance waits queues at most one attempt's timeout
my @lat;
my $bg = $node->background_psql($db);
$bg->query_until(qr/started/, q{\echo started
SET client_min_messages = error;
SELECT count(*) FROM sdp.run_partition_maintenance();
\echo finished
});
my $deadline = time + 3;
while (time < $deadline)
{
	my $s = time;
	$node->safe_psql($db, q{SELECT count(*) FROM busy});
	push @lat, time - $s;
}
$bg->quit;
my ($max) = sort { $b <=> $a } @lat;
ok(@lat > 5, scalar(@lat) . ' queries on busy ran while maintenance retried');
# psql start-up counts in; a 1 s lock wait (the old default) would show
cmp_ok($max, '<', 0.6, sprintf('the slowest waited %.0f ms (attempts wait at most 40 ms)', $max * 1000));

$reader->query_safe('COMMIT');
$reader->quit;
sql(q{SELECT * FROM sdp.run_partition_maintenance()});
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'busy'::regclass AND NOT is_default}), '5',
	'once the reader is gone the next run catches up');

# without a default partition: ATTACH needs only SHARE UPDATE EXCLUSIVE on
# the parent, so the long reader does not hold creation up
sql(q{CREATE TABLE nodef (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('nodef', premake => 2, default_partition => false);});
$reader = $node->background_psql($db);
$reader->query_safe(q{BEGIN; SELECT count(*) FROM nodef});
sql(q{UPDATE sdp.partition_config SET premake = 3 WHERE parent = 'nodef'::regclass;
	SELECT * FROM sdp.run_partition_maintenance()});
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'nodef'::regclass}), '4',
	'default_partition => false: the partition ahead is attached behind the long reader');
$reader->query_safe('COMMIT');
# what holds it up is DDL-strength: then the log says when inserts start failing
$reader->query_safe(q{BEGIN; LOCK TABLE ONLY nodef IN SHARE UPDATE EXCLUSIVE MODE});
sql(q{UPDATE sdp.partition_config SET premake = 4 WHERE parent = 'nodef'::regclass;
	SET client_min_messages = error; SELECT * FROM sdp.run_partition_maintenance()});
like(sql(q{SELECT message FROM sdp.maintenance_log WHERE object = 'nodef' AND status = 'skipped'}),
	qr/it has no default partition: rows from \d{4}-\d\d-01 00:00:00 UTC on fail their INSERT until then$/,
	'a table without a default partition given up says from when rows would fail');
$reader->query_safe('COMMIT');
$reader->quit;
my ($irc, $iout, $ierr) = $node->psql($db, q{INSERT INTO nodef VALUES (1, now() + interval '2 years')});
like($ierr, qr/no partition of relation "nodef" found for row/, 'a row out of range fails visibly, not hidden in a default partition');

# ---------------------------------------------------------------------
# 2. retention refuses partitions a foreign key references
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE sales (id int, sold_at timestamptz NOT NULL, PRIMARY KEY (id, sold_at))
    PARTITION BY RANGE (sold_at);
SELECT count(*) FROM sdp.manage_partitions('sales', '1 month', 1,
    retention => '2 months', start_at => date_trunc('month', now()) - interval '5 months');
INSERT INTO sales VALUES (1, date_trunc('month', now()) - interval '4 months' + interval '1 day'),
                         (2, date_trunc('month', now()) - interval '5 months' + interval '1 day');
CREATE TABLE refunds (sale_id int, sale_at timestamptz,
    CONSTRAINT refunds_sale_fkey FOREIGN KEY (sale_id, sale_at) REFERENCES sales);
INSERT INTO refunds VALUES (1, date_trunc('month', now()) - interval '4 months' + interval '1 day');
});
my $before = sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'sales'::regclass AND NOT is_default});
my ($rc, $out, $err) = $node->psql($db, q{SELECT string_agg(action, ',') FROM sdp.prune_partitions('sales')});
like($out, qr/refused/, 'prune_partitions reports the expired partitions as refused');
like($err, qr/WARNING:  retention of partition "public\.sales_p\d{4}_\d\d" of table "sales" refused: foreign key constraint refunds_sale_fkey of table public\.refunds references it/,
	'with a WARNING naming the constraint and its table');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'sales'::regclass AND NOT is_default}), $before,
	'nothing was detached');
is(sql(q{SELECT count(*) FROM refunds}), '1', 'no referencing row was lost');
ok(sql(q{SELECT count(*) > 0 FROM sdp.maintenance_log WHERE status = 'error' AND action = 'detach partition'
	AND message LIKE 'retention refused: foreign key constraint refunds_sale_fkey%'}), 'and a log row says so');
sql(q{UPDATE sdp.partition_config SET retention_if_referenced = 'keep' WHERE parent = 'sales'::regclass});
($rc, $out, $err) = $node->psql($db, q{SELECT string_agg(DISTINCT action, ',') FROM sdp.run_partition_maintenance()});
unlike($err, qr/WARNING/, "retention_if_referenced = 'keep': no warning");
ok(sql(q{SELECT count(*) > 0 FROM sdp.maintenance_log WHERE status = 'skipped' AND action = 'detach partition'
	AND message LIKE '%kept: foreign key constraint refunds_sale_fkey%'}), 'but a log row per kept partition');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'sales'::regclass AND NOT is_default}), $before,
	'still nothing detached');

# dropping: a view on a partition is named too; without it retention drops
sql(q{DROP TABLE refunds;
UPDATE sdp.partition_config SET retention_mode = 'drop', retention_if_referenced = 'error' WHERE parent = 'sales'::regclass;
SELECT format('CREATE VIEW old_sales AS SELECT * FROM %s', min(partition::text)) FROM sdp.partitions
 WHERE parent = 'sales'::regclass AND NOT is_default \gexec});
($rc, $out, $err) = $node->psql($db, q{SELECT string_agg(action, ',' ORDER BY range_from) FROM sdp.prune_partitions('sales')});
like($err, qr/refused: view public\.old_sales depends on it/, 'a view on a partition to drop is named');
like($out, qr/^refused,dropped,dropped,keep/, 'that partition is kept, the other expired ones are dropped');
is(sql(q{SELECT count(*) FROM old_sales}), '1', 'the view still reads its rows');

# ---------------------------------------------------------------------
# 3. a month boundary across a daylight-saving change, in the table's zone
# ---------------------------------------------------------------------
sql(q{
SET TimeZone = 'America/New_York';
SET smart_dairy_perf.partition_timezone = 'Europe/Berlin';
CREATE TABLE deliveries (id int, delivered_at timestamptz NOT NULL) PARTITION BY RANGE (delivered_at);
SELECT count(*) FROM sdp.manage_partitions('deliveries', '1 month', 1, start_at => '2026-03-01 00:00 Europe/Berlin');
});
is(sql(q{SELECT partition_timezone FROM sdp.partition_config WHERE parent = 'deliveries'::regclass}),
	'Europe/Berlin', 'partition_timezone defaults to the setting at registration');
is(sql(q{SET TimeZone = 'UTC';
	SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'deliveries_p2026_03'}),
	q{FOR VALUES FROM ('2026-02-28 23:00:00+00') TO ('2026-03-31 22:00:00+00')},
	'March 2026 runs from local midnight (UTC+1) to local midnight after the change (UTC+2)');
is(sql(q{SET TimeZone = 'UTC';
	SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'deliveries_p2026_10'}),
	q{FOR VALUES FROM ('2026-09-30 22:00:00+00') TO ('2026-10-31 23:00:00+00')},
	'October 2026 ends at local midnight after the change back (UTC+1)');
sql(q{INSERT INTO deliveries VALUES
	(1, '2026-03-31 23:30 Europe/Berlin'), (2, '2026-04-01 00:30 Europe/Berlin'),
	(3, '2026-10-31 23:30 Europe/Berlin'), (4, '2026-11-01 00:10 Europe/Berlin')});
is(sql(q{SELECT string_agg(id || ':' || tableoid::regclass, ',' ORDER BY id) FROM deliveries}),
	'1:deliveries_p2026_03,2:deliveries_p2026_04,3:deliveries_p2026_10,4:deliveries_p2026_11',
	'rows half an hour either side of local midnight land in their local month');
# the setting changes later: the table keeps its own zone
sql(q{ALTER SYSTEM SET smart_dairy_perf.partition_timezone = 'Asia/Tokyo'; SELECT pg_reload_conf();});
sql(q{UPDATE sdp.partition_config SET premake = 3 WHERE parent = 'deliveries'::regclass;
	SELECT * FROM sdp.run_partition_maintenance()});
is(sql(q{SET TimeZone = 'Europe/Berlin';
	SELECT count(*) FROM pg_class c WHERE c.relname LIKE 'deliveries_p%'
	   AND pg_get_expr(c.relpartbound, c.oid) !~ '00:00:00\+0[12]'}), '0',
	'partitions made after the setting changed still start at midnight in Berlin');
($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.manage_partitions('quiet', partition_timezone => 'Mars/Olympus')});
like($err, qr/time zone "Mars\/Olympus" not recognized/, 'an unknown zone is refused when registering');

$node->stop;
done_testing();
