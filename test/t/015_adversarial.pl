# Adversarial cases: what a hostile but ordinary role can try against
# maintenance, with the background worker on (running as the bootstrap
# superuser).  Each block reproduces one reported hole and asserts that no
# role gains rights, the server never crashes, maintenance of other tables
# (and of the rest of the same table) goes on, and no row is lost.
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('adversarial');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.maintenance_databases = 'adv, noext'
smart_dairy_perf.maintenance_interval = '1s'
smart_dairy_perf.snapshot_interval = 0
smart_dairy_perf.advisor_min_table_pages = 0
restart_after_crash = on
});
$node->start;
my $db = 'adv';
my $cases = 0;

sub sql { return $node->safe_psql($db, $_[0]); }

# psql as a role; returns (exit code, stdout, stderr)
sub as_role
{
	my ($role, $query) = @_;
	my ($out, $err);
	my $rc = $node->psql($db, "SET ROLE $role;\n$query", stdout => \$out, stderr => \$err);
	return ($rc, $out // '', $err // '');
}

sub superusers
{
	return $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(rolname, ',' ORDER BY rolname), '') FROM pg_roles
		   WHERE rolsuper AND rolname NOT IN (current_user)});
}

# wait for n more completed worker runs
sub worker_runs
{
	my ($n) = @_;
	my $before = sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE action = 'log retention'});
	return $node->poll_query_until($db,
		"SELECT count(*) >= $before + $n FROM sdp.maintenance_log WHERE action = 'log retention'");
}

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
CREATE ROLE dbowner LOGIN CREATEDB;
CREATE DATABASE adv OWNER dbowner;
CREATE DATABASE noext;
});
sql(q{
CREATE EXTENSION smart_dairy_perf;
-- the grants the README names for a non-superuser who configures maintenance
GRANT INSERT, UPDATE, DELETE ON sdp.partition_config, sdp.matview_config TO mallory, alice;
GRANT INSERT ON sdp.maintenance_log TO alice;
GRANT USAGE ON SEQUENCE sdp.maintenance_log_id_seq TO alice;
GRANT EXECUTE ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz, boolean, text, text),
    sdp.create_partitions(regclass, timestamptz), sdp.prune_partitions(regclass, boolean),
    sdp.register_matview(regclass, interval, text) TO alice, mallory;
GRANT CREATE ON SCHEMA public TO alice, mallory;
CREATE TABLE public.probe_seen (who text, what text, su boolean);
GRANT INSERT, SELECT ON public.probe_seen TO PUBLIC;
-- a probe with teeth: VOLATILE (a non-volatile PL/pgSQL function can never
-- run ALTER ROLE, whoever calls it), reached through an IMMUTABLE SQL
-- wrapper that the planner folds when its argument is a constant
CREATE FUNCTION public.probe(what text, role text) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- the rights in effect: current_user's (is_superuser shows the session's)
    INSERT INTO public.probe_seen
    SELECT current_user, what, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
    BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', role); EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN 0;
END $$;
CREATE TABLE public.trigger_seen (who text, op text, at timestamptz);
GRANT INSERT, SELECT, DELETE ON public.trigger_seen TO PUBLIC;
});
sub probe_as_superuser
{
	my ($what) = @_;
	return sql(qq{SELECT count(*) FROM public.probe_seen WHERE su AND what = '$what'});
}

ok(worker_runs(1), 'the worker runs in the database');

# ---------------------------------------------------------------------
# 1. row moves run as the owner, fire no trigger and no foreign-key
#    action; partitions belong to the owner
# ---------------------------------------------------------------------
my ($rc, $out, $err) = as_role('alice', q{
CREATE TABLE events (id int, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE FUNCTION events_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trigger_seen VALUES (current_user, TG_OP, NEW.at);
    BEGIN
        EXECUTE 'ALTER ROLE alice SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN NEW;
END $$;
CREATE TRIGGER events_trg BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_trg();
SELECT count(*) FROM sdp.manage_partitions('events', start_at => now() - interval '3 months');
});
is($rc, 0, 'alice manages her own table') or diag($err);
# a gap in the managed range: rows for it wait in the default partition
$node->safe_psql($db, q{SET ROLE alice;
DROP TABLE events_p} . sql(q{SELECT to_char(now() - interval '2 months', 'YYYY_MM')}) . q{;
CREATE TABLE event_notes (id int, event_id int, event_at timestamptz, note text,
    FOREIGN KEY (event_id, event_at) REFERENCES events ON DELETE CASCADE);
CREATE TABLE event_tags (id int, event_id int, event_at timestamptz,
    FOREIGN KEY (event_id, event_at) REFERENCES events ON DELETE SET NULL);
INSERT INTO events SELECT g, date_trunc('month', now() - interval '2 months') + g * interval '1 hour'
  FROM generate_series(1, 4) g;
INSERT INTO event_notes SELECT g, g, date_trunc('month', now() - interval '2 months') + g * interval '1 hour', 'n'
  FROM generate_series(1, 4) g;
INSERT INTO event_tags SELECT g, g, date_trunc('month', now() - interval '2 months') + g * interval '1 hour'
  FROM generate_series(1, 4) g;
DELETE FROM public.trigger_seen;});
is(sql(q{SELECT count(*) FROM ONLY events_default}), 4, 'four rows wait in the default partition');
ok($node->poll_query_until($db, q{SELECT count(*) = 0 FROM ONLY events_default}),
	'the worker moves them into the re-created partition');
is(sql(q{SELECT count(*) FROM events}), 4, 'no event lost');
is(sql(q{SELECT count(*) FROM event_notes}), 4, 'ON DELETE CASCADE did not fire: no note lost');
is(sql(q{SELECT count(*) FROM event_tags WHERE event_id IS NOT NULL}), 4, 'ON DELETE SET NULL did not fire');
is(sql(q{SELECT count(*) FROM public.trigger_seen}), 0, 'the owner\'s trigger saw no relocation');
is(sql(q{SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_inherits i
	JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass}), 'alice',
	'every partition, default included, belongs to alice');
($rc, $out, $err) = as_role('alice', q{ALTER TABLE events ADD COLUMN extra int;
CREATE FUNCTION whoami_int(int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1 + public.probe('alice index', 'alice') $$;
CREATE INDEX ON events ((id + whoami_int(0)));});
is($rc, 0, 'alice alters her table and indexes it with her own function') or diag($err);
ok(worker_runs(2), 'the worker runs over the indexed table');
is(probe_as_superuser('alice index'), '0', 'her index expression never ran as a superuser');
# (an index whose expression writes is not something PostgreSQL supports:
# with it in place, a later DETACH of a partition fails inside PostgreSQL)
$node->safe_psql($db, q{SET ROLE alice; DROP INDEX events_expr_idx});
is(superusers(), '', 'nobody became superuser');
$cases++;

# a trigger enabled ALWAYS on the default partition: the rows stay, the
# period is reported, the other periods are still made
my $month = sql(q{SELECT to_char(now() - interval '1 month', 'YYYY_MM')});
$node->safe_psql($db, qq{SET ROLE alice;
ALTER TABLE events DETACH PARTITION events_p$month;
DROP TABLE events_p$month;
INSERT INTO events (id, at) VALUES (50, date_trunc('month', now() - interval '1 month') + interval '2 days');
ALTER TABLE events_default ENABLE ALWAYS TRIGGER events_trg;
DELETE FROM public.trigger_seen;});
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE action = 'create partition' AND status = 'error' AND message LIKE '%fires on every change%'}),
	'an ALWAYS trigger refuses the move, logged');
is(sql(q{SELECT count(*) FROM ONLY events_default}), 1, 'the row stays in the default partition');
is(sql(q{SELECT count(*) FROM public.trigger_seen}), 0, 'and the trigger never saw a relocation');
$node->safe_psql($db, q{SET ROLE alice; ALTER TABLE events_default ENABLE TRIGGER events_trg});
ok($node->poll_query_until($db, q{SELECT count(*) = 0 FROM ONLY events_default}),
	'once it is an ordinary trigger, the row moves');
$cases++;

# ---------------------------------------------------------------------
# 2. and 5. search_path hijack: the database owner plants format() and an
#    integer * interval operator in public; maintenance never calls them
# ---------------------------------------------------------------------
($rc, $out, $err) = as_role('dbowner', q{
CREATE TABLE public.hijacked (what text);
GRANT INSERT ON public.hijacked TO PUBLIC;
CREATE FUNCTION public.format(text, bigint, bigint, bigint, bigint) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.hijacked VALUES ('format as ' || current_user);
    BEGIN EXECUTE 'ALTER ROLE dbowner SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN 'x';
END $$;
CREATE FUNCTION public.format(text, bigint, bigint) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.hijacked VALUES ('format3 as ' || current_user);
    BEGIN EXECUTE 'ALTER ROLE dbowner SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN 'x';
END $$;
CREATE FUNCTION public.int_times_interval(integer, interval) RETURNS interval
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.hijacked VALUES ('operator as ' || current_user);
    BEGIN EXECUTE 'ALTER ROLE dbowner SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN $2 * $1::float8;
END $$;
CREATE OPERATOR public.* (LEFTARG = integer, RIGHTARG = interval, FUNCTION = public.int_times_interval);
});
is($rc, 0, 'the database owner plants functions and an operator in public') or diag($err);
ok(worker_runs(2), 'the worker runs twice with them in place');
is(sql(q{SELECT count(*) FROM sdp.run_maintenance() WHERE status = 'ok'}), 4,
	'a superuser\'s sdp.run_maintenance() (the pg_cron path) runs every step');
sql(q{SELECT sdp.report('text')});
sql(q{SELECT sdp.metrics()});
is(sql(q{SELECT count(*) FROM public.hijacked}), 0, 'no planted object was ever called');
is(superusers(), '', 'nobody became superuser');
# they would have been: an ordinary session with the default search_path
($rc, $out, $err) = as_role('alice', q{SELECT 2 * interval '1 second'});
is($out, '00:00:02', 'the planted operator answers an ordinary session (alice\'s)');
is(sql(q{SELECT count(*) FROM public.hijacked}), 1, 'there it runs');
$node->safe_psql($db, q{SET ROLE dbowner; DROP OPERATOR public.* (integer, interval);
DROP FUNCTION public.format(text, bigint, bigint, bigint, bigint), public.format(text, bigint, bigint)});
$cases += 2;

# ---------------------------------------------------------------------
# 3. configuration rows: only the owner configures, checked when written
#    and when used
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE sales (id int, at date NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('sales', start_at => now() - interval '13 months', premake => 1);
INSERT INTO sales SELECT g, (now() - interval '13 months')::date + g FROM generate_series(0, 400) g;
});
my $sales_parts = sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'sales'::regclass});
($rc, $out, $err) = as_role('mallory',
	q{UPDATE sdp.partition_config SET retention = '1 day', retention_mode = 'drop' WHERE parent = 'sales'::regclass});
like($err, qr/must be owner of relation/, 'mallory cannot rewrite the superuser\'s configuration');
sql(q{CREATE MATERIALIZED VIEW sales_total AS SELECT count(*) AS n FROM sales});
($rc, $out, $err) = as_role('mallory',
	q{INSERT INTO sdp.matview_config (matview, refresh_every) VALUES ('sales_total', '1 second')});
like($err, qr/must be owner of relation/, 'nor register another owner\'s materialized view');
# a row that got in anyway (written before 1.3, triggers off): not acted on
sql(q{ALTER TABLE sdp.partition_config DISABLE TRIGGER check_config_writer;
UPDATE sdp.partition_config SET retention = '1 day', retention_mode = 'drop',
       configured_by = 'mallory' WHERE parent = 'sales'::regclass;
ALTER TABLE sdp.partition_config ENABLE TRIGGER check_config_writer;
ALTER TABLE sdp.matview_config DISABLE TRIGGER check_config_writer;
INSERT INTO sdp.matview_config (matview, refresh_every, configured_by) VALUES ('sales_total', '1 second', 'mallory');
ALTER TABLE sdp.matview_config ENABLE TRIGGER check_config_writer;});
ok(worker_runs(2), 'the worker runs with the forged rows');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'sales'::regclass}), $sales_parts,
	'no partition of sales dropped');
is(sql(q{SELECT count(*) FROM sales}), 401, 'no row of sales lost');
ok(sql(q{SELECT count(*) > 0 FROM sdp.maintenance_log WHERE object = 'public.sales'
	AND status = 'error' AND message LIKE '%not written by its owner%'}), 'the forged partition row is logged');
is(sql(q{SELECT count(*) FROM sdp.matview_refresh_history WHERE matview_oid = 'sales_total'::regclass}), 0,
	'the forged registration refreshes nothing');
ok(sql(q{SELECT count(*) > 0 FROM sdp.maintenance_log WHERE object = 'public.sales_total' AND status = 'skipped'}),
	'and is logged as skipped');
sql(q{DELETE FROM sdp.matview_config WHERE matview = 'sales_total'::regclass;
UPDATE sdp.partition_config SET retention = NULL, retention_mode = 'detach' WHERE parent = 'sales'::regclass});
$cases++;

# logs show each role its own objects
($rc, $out, $err) = as_role('mallory', q{SELECT count(*) FROM sdp.maintenance_log});
is($out, '0', 'mallory reads no log row of other owners\' objects');
($rc, $out, $err) = as_role('alice',
	q{SELECT count(*) > 0, bool_and(object LIKE 'public.events%') FROM sdp.maintenance_log});
is($out, 't|t', 'alice reads the rows about her own table only');
$cases++;

# ---------------------------------------------------------------------
# 4. the advisor plans mallory's statements as mallory
# ---------------------------------------------------------------------
($rc, $out, $err) = as_role('mallory', q{
CREATE TABLE public.lookups (id int, v int);
INSERT INTO public.lookups SELECT g, g FROM generate_series(1, 20000) g;
ANALYZE public.lookups;
CREATE FUNCTION public.k() RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT 7 + public.probe('mallory k', 'mallory') $$;
SELECT count(*) FROM public.lookups WHERE v = public.k();
SELECT count(*) FROM public.lookups WHERE v = public.k();
});
is($rc, 0, 'mallory runs a statement with an immutable function of hers') or diag($err);
sql(q{SELECT count(*) FROM sdp.recommend_indexes()});
sql(q{SELECT sdp.report('markdown')});
is(superusers(), '', 'a superuser\'s sdp.recommend_indexes() and sdp.report() made nobody superuser');
is(probe_as_superuser('mallory k'), '0', 'her function never ran as a superuser');
ok(sql(q{SELECT count(*) > 0 FROM public.probe_seen WHERE what = 'mallory k' AND who = 'mallory'}),
	'it ran as mallory (her own statements, and the advisor planning them)');
like(sql(q{SELECT string_agg(columns, ',') FROM sdp.recommend_indexes() WHERE "table" = 'lookups'::regclass}),
	qr/^v$/, 'and the advisor still advises for her statement');
$cases++;

# ---------------------------------------------------------------------
# 6. advisory locks an ordinary role can take do not starve maintenance
# ---------------------------------------------------------------------
my $holder = $node->background_psql($db);
$holder->query_safe(q{SET ROLE mallory});
$holder->query_safe(q{SELECT pg_advisory_lock(1396985933, 0), pg_advisory_lock(1396985936, 0),
	pg_advisory_lock(1396985936, 'sales'::regclass::oid::int), pg_advisory_lock(0)});
my $skipped = sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE status = 'skipped' AND action = 'maintenance'});
ok(worker_runs(2), 'the worker keeps running while mallory holds advisory locks');
is(sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE status = 'skipped' AND action = 'maintenance'}),
	$skipped, 'no run skipped');
$holder->quit;
$cases++;

# ---------------------------------------------------------------------
# 7. infinity in a managed table crashes nothing
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE readings (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE deliveries (v int, day date NOT NULL) PARTITION BY RANGE (day);
SELECT count(*) FROM sdp.manage_partitions('readings');
SELECT count(*) FROM sdp.manage_partitions('deliveries');
GRANT INSERT ON readings, deliveries TO mallory;
});
($rc, $out, $err) = as_role('mallory', q{
INSERT INTO readings VALUES (1, 'infinity'), (2, '-infinity');
INSERT INTO deliveries VALUES (1, 'infinity'), (2, '-infinity'), (3, '0044-03-15 BC');});
is($rc, 0, 'mallory inserts infinite and BC keys');
($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.create_partitions('readings')});
is($rc, 0, 'sdp.create_partitions() over infinite keys succeeds') or diag($err);
like($err, qr/2 rows of table "readings" stay in its default partition/, 'with a warning about them');
ok(worker_runs(3), 'three worker runs later');
is(sql(q{SELECT count(*) FROM ONLY readings_default}) . ',' . sql(q{SELECT count(*) FROM ONLY deliveries_default}),
	'2,3', 'the rows stay in the default partitions');
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'no backend crashed');
$cases++;

# ---------------------------------------------------------------------
# 8. late rows: after retention, a BC date, a stray row from 1990
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE ledger (v int, at date NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('ledger', start_at => now() - interval '6 months',
       retention => '3 months', premake => 2);
SELECT count(*) FROM sdp.prune_partitions('ledger');
});
my $detached = sql(q{SELECT to_char(now() - interval '5 months', 'YYYY_MM')});
ok(sql(qq{SELECT count(*) = 1 FROM pg_class WHERE relname = 'ledger_p$detached' AND NOT relispartition}),
	'retention detached an old month');
my $ahead = sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'ledger'::regclass AND NOT is_default});
sql(q{INSERT INTO ledger VALUES (1, (now() - interval '5 months')::date), (2, '1990-06-01'), (3, '0100-01-01 BC')});
# the next month goes missing, so a run that still works makes it again
my $next = sql(q{SELECT to_char(now() + interval '2 months', 'YYYY_MM')});
sql(qq{DROP TABLE ledger_p$next});
ok($node->poll_query_until($db, qq{SELECT count(*) = 1 FROM pg_class WHERE relname = 'ledger_p$next'}),
	'partitions ahead are still made with a late, a BC and a 1990 row in the default partition');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'ledger'::regclass AND NOT is_default}), $ahead,
	'and no partition for them (not 446)');
is(sql(q{SELECT count(*) FROM ONLY ledger_default}), 3, 'the three rows wait in the default partition');
is(sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE object = 'public.ledger' AND status = 'error'}), 0,
	'no run failed');
$cases++;

# a partition name taken by a detached table: a numbered name instead
sql(q{UPDATE sdp.partition_config SET retention = NULL WHERE parent = 'ledger'::regclass});
sql(qq{ALTER TABLE ledger_p$detached RENAME TO ledger_p${detached}_old;
CREATE TABLE ledger_p$detached (x int);
SELECT count(*) FROM sdp.create_partitions('ledger')});
is(sql(q{SELECT count(*) FROM ONLY ledger_default}), 3,
	'without retention the old month is still before the first partition');
$cases++;

# ---------------------------------------------------------------------
# 9. unbounded ranges are refused at once
# ---------------------------------------------------------------------
my $t0 = time;
($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.manage_partitions('readings', start_at => '-infinity')});
like($err, qr/start_at must be a finite time/, 'start_at => -infinity refused');
($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.create_partitions('readings', up_to => '2200-01-01')});
like($err, qr/would get \d+ new partitions, more than smart_dairy_perf.partition_max_create/,
	'up_to => 2200 refused by the cap');
($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.manage_partitions('readings', premake => 100000)});
like($err, qr/premake 100000 is more than smart_dairy_perf.partition_max_create/, 'premake => 100000 refused');
ok(time - $t0 < 30, 'all three in seconds');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'readings'::regclass AND range_from > '2100-01-01'}), 0,
	'nothing was created');
$cases++;

# ---------------------------------------------------------------------
# 10. invalid settings are refused when set
# ---------------------------------------------------------------------
($rc, $out, $err) = $node->psql($db, q{SET smart_dairy_perf.partition_timezone = 'Mars/Olympus_Mons'});
like($err, qr/invalid value for smart_dairy_perf.partition_timezone/, 'an unknown time zone is refused');
($rc, $out, $err) = $node->psql($db, q{SELECT * FROM sdp.recommend_indexes('NaN')});
like($err, qr/min_improvement_pct must be between 0 and 100/, 'NaN is refused');
is(sql(q{SELECT count(*) FROM sdp.partitions}) > 0 ? 1 : 0, 1, 'sdp.partitions still answers');
$cases++;

# ---------------------------------------------------------------------
# bounds are read back whatever the session's DateStyle and TimeZone
# ---------------------------------------------------------------------
sql(q{CREATE TABLE shipments (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at)});
($rc, $out, $err) = $node->psql($db, q{SET TimeZone = 'Asia/Shanghai'; SET DateStyle = 'SQL, DMY';
SELECT count(*) FROM sdp.manage_partitions('shipments', premake => 3);
SELECT count(*) FROM sdp.create_partitions('shipments', up_to => now() + interval '5 months');});
is($rc, 0, 'partitions made in an Asian time zone with SQL, DMY dates') or diag($err);
is(sql(q{SELECT count(*) FROM (SELECT range_to, lead(range_from) OVER (ORDER BY range_from) AS next
	FROM sdp.partitions WHERE parent = 'shipments'::regclass AND NOT is_default) s
	WHERE next IS NOT NULL AND next <> range_to}), 0, 'no gap between them');
is(sql(q{SELECT count(*) FROM sdp.partitions WHERE parent = 'shipments'::regclass AND NOT is_default
	AND range_from NOT LIKE '%-01 00:00:00 UTC'}), 0, 'every bound is the first of a month, midnight UTC');
$cases++;

# ---------------------------------------------------------------------
# time-dependent materialized views are refreshed when due
# ---------------------------------------------------------------------
sql(q{CREATE TABLE visits (at timestamptz);
INSERT INTO visits SELECT now() - g * interval '1 hour' FROM generate_series(0, 47) g;
CREATE MATERIALIZED VIEW recent_visits AS SELECT count(*) AS n FROM visits WHERE at > now() - interval '1 day';
CREATE VIEW visits_today AS SELECT * FROM visits WHERE at::date = current_date;
CREATE MATERIALIZED VIEW today_count AS SELECT count(*) AS n FROM visits_today;
SELECT sdp.register_matview('recent_visits', '1 second');
SELECT sdp.register_matview('today_count', '1 second');});
my $refreshes = sql(q{SELECT count(*) FROM sdp.matview_refresh_history WHERE matview_oid = 'recent_visits'::regclass});
ok($node->poll_query_until($db, qq{SELECT count(*) >= $refreshes + 3 FROM sdp.matview_refresh_history
	WHERE matview_oid = 'recent_visits'::regclass}), 'now() in the query: refreshed at every due run');
ok($node->poll_query_until($db, q{SELECT count(*) >= 3 FROM sdp.matview_refresh_history
	WHERE matview_oid = 'today_count'::regclass}), 'current_date behind a plain view: the same');
isnt(sql(q{SELECT staleness FROM sdp.matviews WHERE matview = 'recent_visits'::regclass}), '00:00:00',
	'its staleness is not zero');
$cases++;

# ---------------------------------------------------------------------
# one long reader on a table holds up that table only; its lock is waited
# for at most maintenance_lock_timeout
# ---------------------------------------------------------------------
sql(q{CREATE TABLE busy (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE quiet (v int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('busy', premake => 2);
SELECT count(*) FROM sdp.manage_partitions('quiet', premake => 2);});
my $reader = $node->background_psql($db);
$reader->query_safe(q{BEGIN; SELECT count(*) FROM busy});
# both need two more partitions: attaching them to busy needs its default
# partition, which the reader holds
sql(q{UPDATE sdp.partition_config SET premake = 4 WHERE parent IN ('busy'::regclass, 'quiet'::regclass)});
ok($node->poll_query_until($db, q{SELECT count(*) = 6 FROM sdp.partitions WHERE parent = 'quiet'::regclass}),
	'quiet gets its partitions while busy has a long reader');
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log WHERE object = 'public.busy'
	AND action = 'maintenance' AND status = 'skipped' AND message LIKE '%lock timeout%'}),
	'busy is given up for the run after the lock timeout, not waited for');
my $t1 = time;
is($node->safe_psql($db, q{SET statement_timeout = '10s'; SELECT count(*) FROM busy}), '0',
	'a new query on busy still runs');
ok(time - $t1 < 5, 'after waiting at most about the lock timeout');
$reader->query_safe(q{COMMIT});
$reader->quit;
ok($node->poll_query_until($db, q{SELECT count(*) = 6 FROM sdp.partitions WHERE parent = 'busy'::regclass}),
	'busy gets them once the reader is gone');
$cases++;

# ---------------------------------------------------------------------
# a listed database without the extension can be dropped
# ---------------------------------------------------------------------
sleep(2);
($rc, $out, $err) = $node->psql('postgres', q{DROP DATABASE noext});
is($rc, 0, 'a listed database without the extension can be dropped') or diag($err);
$cases++;

# ---------------------------------------------------------------------
# Review findings (branch review): each block below reproduces a hole
# that is still open; they fail until it is fixed.  Each case uses its
# own role, and gives the role its attribute back afterwards, so that one
# open hole does not hide the next.
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{CREATE ROLE carol LOGIN; CREATE ROLE dave LOGIN; CREATE ROLE erin LOGIN;});
sql(q{
GRANT INSERT, UPDATE, DELETE ON sdp.partition_config, sdp.matview_config TO carol, dave, erin;
GRANT INSERT ON sdp.maintenance_log TO carol, dave, erin;
GRANT USAGE ON SEQUENCE sdp.maintenance_log_id_seq TO carol, dave, erin;
GRANT EXECUTE ON FUNCTION sdp.manage_partitions(regclass, interval, integer, interval, text, timestamptz, boolean, text, text),
    sdp.create_partitions(regclass, timestamptz), sdp.register_matview(regclass, interval, text)
    TO carol, dave, erin;
GRANT CREATE ON SCHEMA public TO carol, dave, erin;
});

# R1. The worker reads the default partition as itself (the bootstrap
#     superuser), not as the owner: loading an index's expressions folds
#     their constant calls of immutable functions with the worker's rights.
($rc, $out, $err) = as_role('carol', q{
CREATE FUNCTION public.carol_fold(int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1 + public.probe('carol index', 'carol') $$;
CREATE TABLE carol_ev (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('carol_ev');
CREATE INDEX carol_ev_fold ON carol_ev ((id + public.carol_fold(0)));});
is($rc, 0, 'carol indexes her managed table with a constant call of her function') or diag($err);
ok(worker_runs(2), 'the worker runs over it');
is(probe_as_superuser('carol index'), '0', 'R1: carol\'s index expression never ran as a superuser');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'carol'}), 'f', 'R1: carol did not become superuser');
sql(q{ALTER ROLE carol NOSUPERUSER});
$cases++;

# R2. The advisor plans each profiled statement as the role that ran it:
#     for the worker's own statements that is the bootstrap superuser, and
#     the statement's text is parsed again now, over whatever its names
#     mean now.  Dave lets the worker move a row (its probe of the default
#     partition is profiled), then puts a view in the default partition's
#     place; a superuser's sdp.recommend_indexes() plans the view's query.
($rc, $out, $err) = as_role('dave', q{
CREATE FUNCTION public.dave_fold(int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1 + public.probe('dave view', 'dave') $$;
CREATE TABLE dave_ev (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM sdp.manage_partitions('dave_ev', start_at => now() - interval '3 months');});
is($rc, 0, 'dave manages his table') or diag($err);
my $dave_month = sql(q{SELECT to_char(now() - interval '2 months', 'YYYY_MM')});
$node->safe_psql($db, qq{SET ROLE dave; DROP TABLE dave_ev_p$dave_month;
INSERT INTO dave_ev VALUES (1, date_trunc('month', now() - interval '2 months') + interval '1 day');});
# (polled through the log: no statement of the test's superuser session
# names dave's tables, so the only superuser statement over them is the worker's)
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.maintenance_log
	WHERE object LIKE 'public.dave_ev_p%' AND action = 'create partition' AND message LIKE '%1 rows moved%'}),
	'the worker moves his row');
($rc, $out, $err) = as_role('dave', q{
ALTER TABLE dave_ev DETACH PARTITION dave_ev_default;
ALTER TABLE dave_ev_default RENAME TO dave_ev_old_default;
CREATE VIEW public.dave_ev_default AS
    SELECT id, at FROM dave_ev_old_default WHERE public.dave_fold(0) = 0;});
is($rc, 0, 'dave puts a view where the default partition was') or diag($err);
sql(q{SELECT count(*) FROM sdp.recommend_indexes()});
sql(q{SELECT sdp.report('text')});
is(probe_as_superuser('dave view'), '0',
	'R2: a superuser\'s sdp.recommend_indexes() and sdp.report() never ran dave\'s function as a superuser');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'dave'}), 'f', 'R2: dave did not become superuser');
sql(q{ALTER ROLE dave NOSUPERUSER});
$cases++;

# R3. sdp.partition_table() reports the partitions under the caller's
#     search_path: regclass = oid and oid = regclass are no exact match in
#     pg_catalog, so operators the database owner plants in public win.
($rc, $out, $err) = as_role('dbowner', q{
CREATE FUNCTION public.eq_ro(regclass, oid) RETURNS boolean LANGUAGE sql
    AS $$ SELECT public.probe('planted =', 'dbowner') = 0 AND $1::oid OPERATOR(pg_catalog.=) $2 $$;
CREATE FUNCTION public.eq_or(oid, regclass) RETURNS boolean LANGUAGE sql
    AS $$ SELECT public.probe('planted =', 'dbowner') = 0 AND $1 OPERATOR(pg_catalog.=) $2::oid $$;
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = public.eq_ro);
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.eq_or);});
is($rc, 0, 'the database owner plants = (regclass, oid) and = (oid, regclass) in public') or diag($err);
sql(q{CREATE TABLE plain_orders (id int, at date NOT NULL);
INSERT INTO plain_orders SELECT g, current_date - g FROM generate_series(1, 10) g;});
($rc, $out, $err) = $node->psql($db, q{SELECT count(*) FROM sdp.partition_table('plain_orders', 'at', '1 month', 2)});
is($rc, 0, 'a superuser converts a table with the default search_path') or diag($err);
is(probe_as_superuser('planted ='), '0', 'R3: sdp.partition_table() never called the planted operators');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'dbowner'}), 'f', 'R3: dbowner did not become superuser');
sql(q{ALTER ROLE dbowner NOSUPERUSER});
$node->safe_psql($db, q{SET ROLE dbowner; DROP OPERATOR public.= (regclass, oid), public.= (oid, regclass);});
$cases++;

# R4. sdp.partition_table() copies the rows as the caller: a superuser who
#     converts erin's table (even under search_path = pg_catalog) runs her
#     CHECK constraint with superuser rights.
($rc, $out, $err) = as_role('erin', q{
CREATE TABLE erin_orders (id int, at date NOT NULL, CHECK (public.probe('erin check', 'erin') = 0));
INSERT INTO erin_orders SELECT g, current_date - g FROM generate_series(1, 3) g;});
is($rc, 0, 'erin has a table with a CHECK constraint calling a function') or diag($err);
($rc, $out, $err) = $node->psql($db, q{SET search_path = pg_catalog;
SELECT count(*) FROM sdp.partition_table('public.erin_orders', 'at', '1 month', 2)});
is($rc, 0, 'a superuser converts it') or diag($err);
is(probe_as_superuser('erin check'), '0', 'R4: erin\'s CHECK constraint never ran as a superuser');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'erin'}), 'f', 'R4: erin did not become superuser');
sql(q{ALTER ROLE erin NOSUPERUSER});
$cases++;

# R5. sdp.matviews (owned by the bootstrap superuser, readable by PUBLIC)
#     reads sdp.matview_refresh_history with its owner's rights: row-level
#     security is bypassed, and everyone reads every view's last error.
($rc, $out, $err) = as_role('carol', q{
CREATE MATERIALIZED VIEW carol_secret AS SELECT (1 / 0) AS n WITH NO DATA;
SELECT sdp.register_matview('carol_secret', '1 second');});
is($rc, 0, 'carol registers a view whose refresh fails') or diag($err);
ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM sdp.matview_refresh_history
	WHERE matview_oid = 'carol_secret'::regclass AND status = 'error'}), 'its refresh failed');
($rc, $out, $err) = as_role('mallory', q{SELECT count(*) FROM sdp.matview_refresh_history
	WHERE matview_oid = 'carol_secret'::regclass});
is($out, '0', 'mallory reads no history row of carol\'s view');
($rc, $out, $err) = as_role('mallory', q{SELECT coalesce(last_error, '') FROM sdp.matviews
	WHERE matview = 'carol_secret'::regclass});
is($out, '', 'R5: nor its last error through sdp.matviews');
sql(q{SELECT sdp.unregister_matview('carol_secret')});
$cases++;

# R6. Another role squats the names of a future partition (the name and
#     its ten numbered variants, in a schema both can write): the owner's
#     period is never made, at every run.
($rc, $out, $err) = as_role('mallory', q{
DO $$ BEGIN
    FOR i IN 0..10 LOOP
        EXECUTE format('CREATE TABLE public.%I (x int)',
                       'carol_ev_' || to_char(now() + interval '6 months', '"p"YYYY_MM')
                       || CASE WHEN i > 0 THEN '_' || i ELSE '' END);
    END LOOP;
END $$;});
is($rc, 0, 'mallory creates carol_ev_pYYYY_MM and _1 to _10 six months ahead') or diag($err);
$node->safe_psql($db, q{SET ROLE carol; UPDATE sdp.partition_config SET premake = 8 WHERE parent = 'carol_ev'::regclass});
ok(worker_runs(2), 'the worker runs with premake 8');
is(sql(q{SELECT count(*) FROM sdp.maintenance_log WHERE object LIKE 'public.carol_ev%'
	AND status = 'error' AND message LIKE '%no free name%'}), '0',
	'R6: squatted names do not stop carol\'s partition from being made');
$cases++;

is(superusers(), '', 'at the end, still nobody became superuser');
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'and the server never crashed');

# ---------------------------------------------------------------------
# a crash in the middle of a maintenance run does not make a crash loop:
# the worker's back-off survives the crash restart
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{ALTER SYSTEM SET smart_dairy_perf.maintenance_interval = '6s'});
$node->reload;
sql(q{CREATE MATERIALIZED VIEW slower_mv AS SELECT 1 AS s FROM pg_sleep(30) WITH NO DATA});
sql(q{SELECT sdp.register_matview('slower_mv', '1 second')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND query LIKE '%refresh%'
	  AND state = 'active' AND now() - query_start > interval '1 second'}),
	'the worker is in the middle of a long refresh');
my $worker_pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'adv'});
my $t_crash = time;
kill 'KILL', $worker_pid;
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart';
$node->safe_psql($db, q{DELETE FROM sdp.matview_config WHERE matview = 'slower_mv'::regclass});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'smart_dairy_perf maintenance' AND datname = 'adv'}),
	'the worker comes back after the crash restart');
my $delay = time - $t_crash;
cmp_ok($delay, '>=', 5, 'after its back-off (a maintenance_interval), not at once');
note(sprintf('worker back after the crash in %.1f s', $delay));
$cases++;

note("adversarial cases: $cases");
$node->stop;
done_testing();
