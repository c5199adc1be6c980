# pg_stat_statements as the oracle.  Both are preloaded (smart_dairy_perf
# last, so that its hooks run first and see every statement's query id),
# with track = all, track_utility and track_planning on in both.  One mixed
# workload runs: simple and extended protocol (pgbench -M extended and
# -M prepared), SQL-level PREPARE/EXECUTE, nested PL/pgSQL (functions, a
# procedure with COMMIT, DO, dynamic SQL, a utility statement in a loop,
# errors caught by EXCEPTION blocks),
# DDL, VACUUM, ANALYZE, COPY in and out, CREATE TABLE AS, SELECT INTO,
# materialized views, a cursor, EXPLAIN ANALYZE, SET/SHOW, errors in the
# middle of transactions and a rolled-back transaction.
#
# Then, per (user, database, toplevel, query id): calls, rows and plans
# must be equal for every statement both count.  The only differences
# allowed are listed in %explained below, each with its reason; anything
# else fails the test.  sdp.pg_stat_statements is also compared with
# pg_stat_statements' own view, column for column (names and types).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pgss_oracle');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,smart_dairy_perf'
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
pg_stat_statements.track_planning = on
pg_stat_statements.max = 5000
smart_dairy_perf.track = all
smart_dairy_perf.track_utility = on
smart_dairy_perf.track_planning = on
smart_dairy_perf.max_queries = 5000
smart_dairy_perf.slow_query_ms = -1
jit = off
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE cows (id int PRIMARY KEY, herd int NOT NULL, name text);
INSERT INTO cows SELECT g, g % 7, 'cow ' || g FROM generate_series(1, 1000) g;
CREATE TABLE milkings (cow int, litres numeric, at timestamptz DEFAULT now());
CREATE FUNCTION herd_size(h int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    SELECT count(*) INTO n FROM cows WHERE herd = h;
    RETURN n;
END $$;
CREATE FUNCTION milk_herd(h int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r record; k int := 0;
BEGIN
    FOR r IN SELECT id FROM cows WHERE herd = h ORDER BY id LIMIT 5 LOOP
        INSERT INTO milkings (cow, litres) VALUES (r.id, 20.5);
        k := k + 1;
    END LOOP;
    EXECUTE format('UPDATE cows SET name = name WHERE herd = %s', h);
    RETURN k;
END $$;
CREATE PROCEDURE nightly(n int) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO milkings (cow, litres) SELECT id, 1 FROM cows WHERE id <= n;
    COMMIT;
    DELETE FROM milkings WHERE litres = 1;
    CREATE TEMP TABLE IF NOT EXISTS scratch (x int);
    TRUNCATE scratch;
END $$;
CREATE FUNCTION temp_loop() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. 3 LOOP
        CREATE TEMP TABLE loop_tmp (x int);
        INSERT INTO loop_tmp VALUES (i);
        DROP TABLE loop_tmp;
    END LOOP;
END $$;
CREATE FUNCTION careful(h int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    BEGIN
        SELECT count(*) INTO n FROM cows WHERE herd = h;
        PERFORM 1 / (h - h);
    EXCEPTION WHEN division_by_zero THEN
        n := -1;
    END;
    BEGIN
        CREATE TABLE cows (x int);
    EXCEPTION WHEN duplicate_table THEN
        n := n - 1;
    END;
    UPDATE cows SET herd = herd WHERE id = h;
    RETURN n;
END $$;
CREATE MATERIALIZED VIEW herd_sizes AS SELECT herd, count(*) AS n FROM cows GROUP BY herd;
});

# start both from nothing, in one statement that both count once
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset(), sdp.reset()');

# --- simple protocol, one statement per query message --------------------
$node->safe_psql('postgres', q{
SELECT name FROM cows WHERE id = 1;
SELECT name FROM cows WHERE id = 2;
SELECT name FROM cows WHERE id = 3;
SELECT count(*) FROM cows WHERE herd IN (1, 2, 3);
INSERT INTO milkings (cow, litres) VALUES (1, 10), (2, 11), (3, 12);
UPDATE milkings SET litres = litres + 1 WHERE cow <= 2;
DELETE FROM milkings WHERE cow = 3;
SET work_mem = '8MB';
SHOW work_mem;
RESET work_mem;
SET search_path = public;
PREPARE one_cow(int) AS SELECT name FROM cows WHERE id = $1;
EXECUTE one_cow(4);
EXECUTE one_cow(5);
EXECUTE one_cow(6);
DEALLOCATE one_cow;
PREPARE add_milk(int, numeric) AS INSERT INTO milkings (cow, litres) VALUES ($1, $2);
EXECUTE add_milk(7, 30);
EXECUTE add_milk(8, 31);
DEALLOCATE ALL;
CREATE TABLE calves (id int, mother int);
ALTER TABLE calves ADD COLUMN born date;
CREATE INDEX calves_mother ON calves (mother);
COMMENT ON TABLE calves IS 'young ones';
INSERT INTO calves SELECT g, g % 100, DATE '2026-01-01' FROM generate_series(1, 50) g;
VACUUM calves;
ANALYZE calves;
VACUUM (ANALYZE) cows;
COPY (SELECT id, herd FROM cows WHERE id <= 25) TO STDOUT;
COPY calves (id, mother) TO STDOUT;
COPY calves (id, mother) FROM STDIN;
101	1
102	2
103	3
\.
CREATE TABLE big_herd AS SELECT * FROM cows WHERE herd = 1;
SELECT * INTO small_herd FROM cows WHERE herd = 2 AND id < 100;
CREATE MATERIALIZED VIEW calf_count AS SELECT mother, count(*) FROM calves GROUP BY mother;
REFRESH MATERIALIZED VIEW herd_sizes;
REFRESH MATERIALIZED VIEW calf_count;
TRUNCATE big_herd;
DROP TABLE big_herd;
DROP TABLE small_herd;
SELECT herd_size(3);
SELECT herd_size(4);
SELECT milk_herd(5);
CALL nightly(10);
CALL nightly(20);
DO $$ BEGIN PERFORM herd_size(6); UPDATE cows SET herd = herd WHERE id = 9; END $$;
SELECT temp_loop();
SELECT careful(2);
SELECT careful(3);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM cows WHERE herd = 5;
EXPLAIN SELECT * FROM cows WHERE id = 77;
BEGIN;
DECLARE herd_cursor CURSOR FOR SELECT id FROM cows ORDER BY id;
FETCH 5 FROM herd_cursor;
FETCH 3 FROM herd_cursor;
CLOSE herd_cursor;
COMMIT;
BEGIN;
INSERT INTO milkings (cow, litres) VALUES (500, 1), (501, 2);
UPDATE cows SET name = 'rolled back' WHERE id = 500;
CREATE TABLE never_kept (x int);
ROLLBACK;
SELECT count(*) FROM milkings;
});

# --- errors in the middle: the failing statements are counted by neither ---
my ($rc, $out, $err) = $node->psql('postgres', q{
SELECT name FROM cows WHERE id = 10;
SELECT 1 / (id - 11) FROM cows WHERE id = 11;
CREATE TABLE cows (x int);
BEGIN;
INSERT INTO milkings (cow, litres) VALUES (600, 1);
SELECT herd_size(1 / 0);
ROLLBACK;
BEGIN;
SAVEPOINT s1;
INSERT INTO milkings (cow, litres) VALUES (601, 1);
ROLLBACK TO SAVEPOINT s1;
INSERT INTO cows VALUES (1, 1, 'duplicate');
ROLLBACK;
VACUUM no_such_table;
SELECT name FROM cows WHERE id = 12;
}, on_error_stop => 0);
like($err, qr/division by zero/, 'the workload had errors midway');
like($err, qr/duplicate key/, 'and a failed INSERT');

# --- extended protocol: pgbench, as a real client -------------------------
my $script = $node->basedir . '/milk.sql';
open(my $fh, '>', $script) or die $!;
print $fh <<'EOS';
\set id random(1, 1000)
SELECT name, herd FROM cows WHERE id = :id;
UPDATE cows SET herd = herd WHERE id = :id;
INSERT INTO milkings (cow, litres) VALUES (:id, 12.5);
SELECT herd_size(:id % 7);
EOS
close $fh;
for my $mode (qw(simple extended prepared))
{
	$node->command_ok(
		[ 'pgbench', '-n', '-M', $mode, '-t', '7', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		"pgbench -M $mode");
}

# --- both snapshots, taken by one statement --------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE snap AS
    SELECT 'pgss' AS src, userid, dbid, toplevel, queryid, calls, rows, plans,
           query FROM public.pg_stat_statements
    UNION ALL
    SELECT 'sdp', userid, dbid, toplevel, queryid, calls, rows, plans,
           query FROM sdp.pg_stat_statements
});

my %rows;
for my $line (split /\n/, $node->safe_psql('postgres', q{
SELECT src, userid, dbid, toplevel, queryid, calls, rows, plans,
       replace(replace(left(query, 70), E'\n', ' '), '|', '/')
  FROM snap ORDER BY queryid, toplevel, src}))
{
	my ($src, $u, $d, $top, $qid, $calls, $r, $plans, $q) = split /\|/, $line, 9;
	$rows{"$u/$d/$top/$qid"}{$src} = { calls => $calls, rows => $r, plans => $plans, query => $q };
}

# Differences that are known and explained; a key is a pattern on the text.
# Each one names which side has the statement and why.
# (Both keep an entry for a statement that failed before it was planned or
# executed, pg_stat_statements to hold its normalized text, and both leave
# it out of their views: no difference there.)
my @explained = (
	# Plain EXPLAIN (without ANALYZE) starts and ends the executor on the
	# statement it explains without running it.  pg_stat_statements counts
	# that as one nested execution with 0 rows; we do not count it (it did
	# not run; profiler_hooks.c, explain_only()).  The planning is counted
	# by both, and the EXPLAIN itself (a utility statement) by both.
	[ 'plain EXPLAIN: the explained statement did not run', sub {
		my ($p, $s) = @_;
		return defined $p && defined $s && $p->{query} =~ /^EXPLAIN SELECT/
		  && $p->{calls} == 1 && $s->{calls} == 0 && $p->{rows} == 0
		  && $p->{plans} == $s->{plans};
	} ],
);

my ($compared, $equal) = (0, 0);
my @unexplained;
for my $k (sort keys %rows)
{
	my ($p, $s) = @{ $rows{$k} }{qw(pgss sdp)};
	my $same = defined $p && defined $s
	  && !grep { $p->{$_} != $s->{$_} } qw(calls rows plans);
	$compared++ if defined $p && defined $s;
	if ($same) { $equal++; next; }
	my ($why) = grep { $_->[1]->($p, $s) } @explained;
	my $show = sub {
		my ($r) = @_;
		return defined $r
		  ? join(',', map { "$_=$r->{$_}" } qw(calls rows plans))
		  : 'absent';
	};
	my $line = "$k: pg_stat_statements " . $show->($p) . ", smart_dairy_perf "
	  . $show->($s) . " [" . ($p // $s)->{query} . "]";
	if ($why) { note "explained ($why->[0]): $line"; next; }
	push @unexplained, $line;
}
note "compared $compared statements, $equal equal";
cmp_ok($compared, '>=', 60, 'the workload gave both many statements to compare');
is(join("\n", @unexplained), '', 'calls, rows and plans equal per query id; no unexplained difference');

# spot checks that the workload reached what it is meant to test
sub sdp_of
{
	my ($pattern, $col) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum($col), -1) FROM snap WHERE src = 'sdp' AND query LIKE '$pattern'");
}
is(sdp_of('COPY calves (id, mother) FROM STDIN%', 'rows'), 3, 'COPY FROM counts its rows');
is(sdp_of('COPY (SELECT id, herd FROM cows WHERE id <= 25) TO STDOUT%', 'rows'), 25, 'COPY TO counts its rows');
is(sdp_of('CREATE TABLE big_herd AS%', 'rows'), 143, 'CREATE TABLE AS counts its rows');
is(sdp_of('REFRESH MATERIALIZED VIEW herd_sizes%', 'rows'), 7, 'REFRESH counts its rows');
is(sdp_of('FETCH 5 FROM herd_cursor%', 'rows'), 5, 'FETCH counts its rows');
is(sdp_of('SELECT name FROM cows WHERE id = $1%', 'calls'), 5, 'constants folded: one shape, five calls');
is(sdp_of('PREPARE one_cow%', 'calls'), 3, 'EXECUTE counted under the prepared statement');
is(sdp_of('EXECUTE%', 'calls'), -1, 'EXECUTE itself is not counted');
is(sdp_of('DEALLOCATE%', 'calls'), -1, 'DEALLOCATE is not counted');
is(sdp_of('CREATE TEMP TABLE loop_tmp%', 'calls'), 3, 'a utility statement in a PL/pgSQL loop counted every time');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM snap WHERE src = 'sdp' AND NOT toplevel AND query LIKE 'INSERT INTO milkings (cow, litres) VALUES (r.id%'"),
	1, 'nested statement counted as not top-level');
is(sdp_of('VACUUM calves%', 'calls'), 1, 'VACUUM counted');
is($node->safe_psql('postgres',
	"SELECT string_agg(toplevel::text, ',') FROM snap WHERE src = 'sdp' AND query LIKE 'UPDATE cows SET herd = herd WHERE id = h%'"),
	'false', 'after errors caught inside a function the nesting level is still right');

# --- the view's shape: pg_stat_statements 1.10's, column for column -------
my $shape = q{
SELECT string_agg(format('%%s %%s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = '%s'::regclass AND a.attnum > 0 AND NOT a.attisdropped};
my $theirs = $node->safe_psql('postgres', sprintf($shape, 'public.pg_stat_statements'));
my $ours = $node->safe_psql('postgres', sprintf($shape, 'sdp.pg_stat_statements'));
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'}),
	'1.10', 'the oracle is pg_stat_statements 1.10');
is($ours, $theirs, 'sdp.pg_stat_statements has the columns and types of pg_stat_statements 1.10');

# JIT and temporary-file I/O time, against the oracle's figures
$node->safe_psql('postgres', q{
SELECT pg_stat_statements_reset(), sdp.reset();
SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0;
SET jit_optimize_above_cost = 0;
SELECT sum(id * herd) AS jitted FROM cows WHERE name <> 'x';
RESET jit; SET track_io_timing = on; SET work_mem = '64kB';
SELECT g AS spilled FROM generate_series(1, 20000) g ORDER BY g DESC OFFSET 19999;
});
my $jit_sql = q{SELECT jit_functions, jit_inlining_count, jit_optimization_count,
       jit_emission_count, jit_generation_time > 0, temp_blks_written,
       temp_blk_write_time > 0
  FROM %s WHERE query LIKE '%%AS %s%%' AND toplevel};
my $jit_theirs = $node->safe_psql('postgres', sprintf($jit_sql, 'public.pg_stat_statements', 'jitted'));
SKIP:
{
	skip 'this server has no JIT', 1 unless $jit_theirs =~ /^[1-9]/;
	is($node->safe_psql('postgres', sprintf($jit_sql, 'sdp.pg_stat_statements', 'jitted')),
		$jit_theirs, 'JIT counts as pg_stat_statements has them');
}
my $temp_theirs = $node->safe_psql('postgres', sprintf($jit_sql, 'public.pg_stat_statements', 'spilled'));
like($temp_theirs, qr/\|t$/, 'the sort spilled to a temporary file, with its write time');
is($node->safe_psql('postgres', sprintf($jit_sql, 'sdp.pg_stat_statements', 'spilled')),
	$temp_theirs, 'temporary blocks and their write time as pg_stat_statements has them');

# planning: counted only with track_planning
$node->safe_psql('postgres', q{
ALTER SYSTEM SET smart_dairy_perf.track_planning = off;
SELECT pg_reload_conf();
});
$node->safe_psql('postgres', q{
SELECT sdp.reset();
SELECT id FROM cows WHERE herd = 99;
SELECT id FROM cows WHERE herd = 98;
});
is($node->safe_psql('postgres',
	q{SELECT plans || ' ' || calls FROM sdp.pg_stat_statements WHERE query LIKE 'SELECT id FROM cows WHERE herd = $1%'}),
	'0 2', 'track_planning off: executions counted, planning not');

# track_utility off: utility statements not counted
$node->safe_psql('postgres', q{
ALTER SYSTEM SET smart_dairy_perf.track_utility = off;
SELECT pg_reload_conf();
});
$node->safe_psql('postgres', q{
SELECT sdp.reset();
CREATE TEMP TABLE off_tmp (x int);
VACUUM calves;
SELECT 1 AS after_utility;
});
is($node->safe_psql('postgres',
	q{SELECT string_agg(query, ' / ' ORDER BY query) FROM sdp.pg_stat_statements WHERE query NOT LIKE '%sdp.reset%'}),
	'SELECT $1 AS after_utility', 'track_utility off: utility statements not counted');

$node->stop;

# The other order: pg_stat_statements' hooks run first and set a utility
# statement's query id to 0 before ours see it; we compute it again from
# the text and put it back in the statement, so both still count the same.
# In a PL/pgSQL loop the utility statement's plan is cached: without the id
# put back, pg_stat_statements' 0 would stay in it and from the second time
# on it would not count the statement (1 of 3, as 1.3's first version had
# it); with it, both count all three.
my $other = PostgreSQL::Test::Cluster->new('pgss_first');
$other->init;
$other->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf,pg_stat_statements'
pg_stat_statements.track = all
smart_dairy_perf.track = all
});
$other->start;
$other->safe_psql('postgres', q{
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION smart_dairy_perf;
SELECT pg_stat_statements_reset(), sdp.reset();
CREATE TABLE heifers (id int);
VACUUM heifers;
DO $$ BEGIN FOR i IN 1 .. 3 LOOP TRUNCATE heifers; END LOOP; END $$;
DROP TABLE heifers;
});
my $both = q{
SELECT string_agg(format('%%s %%s %%s', toplevel, calls, left(query, 20)), ', ' ORDER BY query, toplevel)
  FROM %s WHERE query ~ '^(CREATE TABLE heifers|VACUUM|DO|TRUNCATE|DROP TABLE heifers)'};
my $pgss_counts = $other->safe_psql('postgres', sprintf($both, 'public.pg_stat_statements'));
like($pgss_counts, qr/f 3 TRUNCATE heifers/, 'pg_stat_statements first: it counts the looped TRUNCATE three times');
is($other->safe_psql('postgres', sprintf($both, 'sdp.pg_stat_statements')), $pgss_counts,
	'listed before pg_stat_statements: utility statements counted as it counts them');
$other->stop;
done_testing();
