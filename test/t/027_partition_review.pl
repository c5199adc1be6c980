# Hostile and awkward cases of partition maintenance without stalls
# (issue 18 review): a table owner's code reached by the background
# worker's DETACH PARTITION ... CONCURRENTLY must not run with more than
# the owner's rights; registering a table again keeps its zone and its
# choice of no default partition; the concurrent detach of a partition with
# a foreign key does not hold up writers of the referenced table;
# maintenance_lock_timeout = 0 leaves the wait to lock_timeout.
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('partition_review');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.maintenance_databases = ''
smart_dairy_perf.maintenance_interval = '1s'
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }

sql(q{CREATE EXTENSION smart_dairy_perf});
my $super = sql(q{SELECT rolname FROM pg_roles WHERE oid = 10});

# ---------------------------------------------------------------------
# 1. an owner's function run while the worker detaches concurrently
# ---------------------------------------------------------------------
# The partition's CHECK constraint calls an IMMUTABLE function with a
# constant argument: PostgreSQL folds it while DETACH ... CONCURRENTLY
# looks for a constraint that implies the partition's.  The function
# calls a VOLATILE one that tries to become the worker's (superuser)
# session user and make its owner a superuser.
sql(qq{CREATE ROLE mallory LOGIN;
GRANT EXECUTE ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text,
    timestamptz, boolean, text, text) TO mallory;
GRANT INSERT, UPDATE, DELETE ON sdp.partition_config TO mallory;
GRANT INSERT ON sdp.maintenance_log TO mallory;
GRANT USAGE ON SEQUENCE sdp.maintenance_log_id_seq TO mallory;
CREATE SCHEMA mallory AUTHORIZATION mallory;});
# the owner's part, in a session of its own (not SET ROLE, whose session
# user would be a superuser)
$node->safe_psql($db, qq{CREATE TABLE mallory.seen (what text);
CREATE FUNCTION mallory.escalate() RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
    EXECUTE 'SET ROLE $super';
    INSERT INTO mallory.seen VALUES ('ran as ' || current_user);
    EXECUTE 'ALTER ROLE mallory SUPERUSER';
    RESET ROLE;
EXCEPTION WHEN OTHERS THEN
    INSERT INTO mallory.seen VALUES ('refused: ' || SQLERRM);
END
\$f\$;
CREATE FUNCTION mallory.ok(int) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS \$f\$
BEGIN
    PERFORM mallory.escalate();
    RETURN true;
END
\$f\$;
CREATE TABLE mallory.ledger (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('mallory.ledger', '1 month', 1,
    start_at => date_trunc('month', now()) - interval '4 months', default_partition => false);
DO \$d\$ BEGIN
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT trap CHECK (mallory.ok(1))',
                   (SELECT partition FROM sdp.partitions WHERE parent = 'mallory.ledger'::regclass
                     ORDER BY range_from LIMIT 1));
END \$d\$;
UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'mallory.ledger'::regclass;},
	extra_params => ['-U', 'mallory']);
sql(q{ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = 'postgres';
SELECT pg_reload_conf();});
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'mallory.ledger_p%' AND action = 'detach partition'}),
	'the worker tried to detach the trapped partition');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'the owner did not make itself a superuser');
unlike(sql(q{SELECT string_agg(what, E'\n') FROM mallory.seen}), qr/ran as /,
	'its code never ran as another role');
like(sql(q{SELECT string_agg(what, E'\n') FROM mallory.seen}),
	qr/refused: cannot set parameter "role" within security-restricted operation/,
	'it ran inside a security-restricted operation');
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM sdp.maintenance_log
	WHERE object LIKE 'mallory.ledger_p%' AND action = 'detach partition' AND status = 'ok'
	  AND message LIKE '%DETACH PARTITION CONCURRENTLY'}),
	'and the concurrent detach went through');
sql(q{ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = ''; SELECT pg_reload_conf()});
$node->poll_query_until($db, q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE application_name = 'smart_dairy_perf maintenance'});

# ---------------------------------------------------------------------
# 2. registering a table again keeps what was not given
# ---------------------------------------------------------------------
sql(q{CREATE TABLE kiosk (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('kiosk', '1 month', 2,
    partition_timezone => 'Asia/Kathmandu', default_partition => false,
    retention_if_referenced => 'keep');
SELECT count(*) FROM sdp.manage_partitions('kiosk', '1 month', 4);});
is(sql(q{SELECT partition_timezone || ' ' || default_partition || ' ' || retention_if_referenced || ' ' || premake
	FROM sdp.partition_config WHERE parent = 'kiosk'::regclass}),
	'Asia/Kathmandu false keep 4',
	'a second registration without them keeps the zone, no default partition and keep');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'kiosk'::regclass AND is_default}), '0',
	'and makes no default partition');
is(sql(q{SELECT count(*) FROM sdp._range_partitions('Asia/Kathmandu', 'kiosk')
	WHERE from_local::time <> '00:00'}), '0',
	'every partition starts at midnight in Kathmandu');
sql(q{SELECT count(*) FROM sdp.manage_partitions('kiosk', '1 month', 4, default_partition => true,
    retention_if_referenced => 'error')});
is(sql(q{SELECT partition_timezone || ' ' || default_partition || ' ' || retention_if_referenced
	FROM sdp.partition_config WHERE parent = 'kiosk'::regclass}),
	'Asia/Kathmandu true error', 'given ones change');
my ($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.manage_partitions('kiosk',
	partition_timezone => 'America/Sao_Paulo')});
like($err, qr/ERROR:  table "kiosk" has partitions in time zone "Asia\/Kathmandu"/,
	'another zone for a table with partitions is refused');
($rc, $out, $err) = $node->psql($db, q{UPDATE sdp.partition_config SET partition_timezone = 'America/Sao_Paulo'
	WHERE parent = 'kiosk'::regclass});
like($err, qr/ERROR:  table "kiosk" has partitions in time zone "Asia\/Kathmandu"/,
	'so is an UPDATE of sdp.partition_config to another zone');
sql(q{CREATE TABLE empty_t (at timestamptz) PARTITION BY RANGE (at);
	SELECT count(*) FROM sdp.manage_partitions('empty_t', default_partition => false)});
($rc, $out, $err) = $node->psql($db, q{UPDATE sdp.partition_config SET partition_timezone = 'Mars/Olympus' WHERE parent = 'empty_t'::regclass});
like($err, qr/ERROR:  time zone "Mars\/Olympus" not recognized/, 'and one to an unknown zone');
is(sql(q{SELECT count(*) FROM sdp.partition_config WHERE partition_timezone IN ('America/Sao_Paulo', 'Mars/Olympus')}), '0',
	'neither was written');

# ---------------------------------------------------------------------
# 3. a partition with a foreign key: writers of the referenced table
# ---------------------------------------------------------------------
# Finishing the concurrent detach of such a partition makes action
# triggers on the referenced table, SHARE ROW EXCLUSIVE: behind a long
# writer there, every writer of it would queue for detach_wait_timeout.
sql(q{ALTER SYSTEM SET smart_dairy_perf.detach_wait_timeout = '20s';
CREATE TABLE "Customers" (id int PRIMARY KEY, name text);
INSERT INTO "Customers" SELECT g, 'c' || g FROM generate_series(1, 10) g;
CREATE TABLE "Orders" (id int, customer_id int REFERENCES "Customers", at timestamptz NOT NULL)
    PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('"Orders"', '1 month', 1,
    start_at => date_trunc('month', now()) - interval '4 months', default_partition => false);
INSERT INTO "Orders" SELECT g, 1 + g % 10, now() - g * interval '1 day' FROM generate_series(0, 110) g;
UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = '"Orders"'::regclass;});
my $writer = $node->background_psql($db);
$writer->query_safe(q{BEGIN; UPDATE "Customers" SET name = name WHERE id = 1});
sql(q{ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = 'postgres'; SELECT pg_reload_conf()});
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM pg_inherits
	WHERE inhparent = '"Orders"'::regclass AND inhdetachpending}),
	'the concurrent detach ran its first transaction');
my $t0 = time;
sql(q{SET statement_timeout = '30s'; UPDATE "Customers" SET name = name WHERE id = 2});
cmp_ok(time - $t0, '<', 2, 'a writer of the referenced table does not queue behind it');
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public."Orders_p%' AND action = 'detach partition' AND status = 'skipped'
	  AND message LIKE 'DETACH PARTITION CONCURRENTLY interrupted after its first transaction (canceling statement due to lock timeout)%'}),
	'it stayed pending, logged');
$writer->query_safe('COMMIT');
$writer->quit;
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public."Orders_p%' AND action = 'detach partition' AND status = 'ok'
	  AND message LIKE '%finished with DETACH PARTITION ... FINALIZE'}),
	'once the writer ended FINALIZE finished it (a quoted name)');
ok($node->poll_query_until($db, q{SELECT count(*) = 0 FROM pg_inherits
	WHERE inhparent = '"Orders"'::regclass AND inhdetachpending}), 'nothing stays pending');

# ---------------------------------------------------------------------
# 4. maintenance_lock_timeout = 0 waits as long as lock_timeout says
# ---------------------------------------------------------------------
# (set by a reload after the worker's concurrent detaches above)
sql(q{ALTER SYSTEM SET smart_dairy_perf.maintenance_lock_timeout = 0;
ALTER SYSTEM SET lock_timeout = '300ms'; SELECT pg_reload_conf();
CREATE TABLE taps (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('taps', '1 month', 1,
    start_at => date_trunc('month', now()) - interval '4 months', default_partition => false);});
my $ddl = $node->background_psql($db);
$ddl->query_safe(q{SET lock_timeout = 0; BEGIN; LOCK TABLE ONLY taps IN SHARE UPDATE EXCLUSIVE MODE});
sql(q{UPDATE sdp.partition_config SET retention = '3 months' WHERE parent = 'taps'::regclass});
my $logged = 0;
for (1 .. 300)
{
	$logged = sql(q{SELECT count(*) FROM sdp.maintenance_log
		WHERE object LIKE 'public.taps_p%' AND action = 'detach partition' AND status = 'skipped'
		  AND message LIKE 'canceling statement due to lock timeout (1 attempt); %'});
	last if $logged > 0;
	sleep(0.1);
}
ok($logged > 0, 'behind a lock held on the parent the concurrent detach gave up after lock_timeout')
  or diag(sql(q{SELECT string_agg(object || ' ' || action || ' ' || status || ': ' || coalesce(message, ''), E'\n' ORDER BY id)
	FROM sdp.maintenance_log WHERE object LIKE '%taps%'}));
$ddl->query_safe('COMMIT');
$ddl->quit;
ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM sdp.maintenance_log
	WHERE object LIKE 'public.taps_p%' AND action = 'detach partition' AND status = 'ok'}),
	'and detached it at a later run');

$node->stop;
done_testing();
