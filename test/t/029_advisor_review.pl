# The advisor's samples, hiding and validation as a hostile ordinary role
# would try them.  sdp.validate_index() runs other roles' statements: each
# as its own role (a superuser's as the owner of what it reads, never with
# superuser rights), and only roles the caller may act as.  An index the
# session hid is still measured both ways.  Nobody reads another user's
# constants; hiding is this session's only; query_samples = off keeps,
# shows and saves nothing; hostile search_path strings are kept verbatim
# or not at all.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('advisor_review');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.track = all
smart_dairy_perf.predicate_sample_rate = 0
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }
sub as { my ($role, $q) = @_; return $node->safe_psql($db, $q, extra_params => ['-U', $role]); }
sub psql_as
{
	my ($role, $q) = @_;
	my ($ret, $out, $err) = $node->psql($db, $q, extra_params => ['-U', $role]);
	return ($out, $err);
}

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE ROLE app LOGIN;
CREATE ROLE eve LOGIN;
CREATE ROLE delegate LOGIN;
GRANT pg_read_all_stats TO delegate;
GRANT EXECUTE ON FUNCTION sdp.validate_index(regclass, integer, integer),
                          sdp._validate_index(regclass, integer, integer) TO delegate;
CREATE SCHEMA shop AUTHORIZATION app;
CREATE SCHEMA evil AUTHORIZATION eve;
GRANT USAGE ON SCHEMA shop TO eve, delegate;
GRANT USAGE ON SCHEMA evil TO app;
SET ROLE app;
CREATE TABLE shop.t (id int PRIMARY KEY, k int, v text);
INSERT INTO shop.t SELECT g, g % 1000, 'x' FROM generate_series(1, 100000) g;
CREATE INDEX t_k ON shop.t (k);
GRANT SELECT ON shop.t TO eve, delegate;
RESET ROLE;
CREATE TABLE public.secret (s text);
INSERT INTO public.secret VALUES ('topsecret');
ANALYZE shop.t;
});
# harmless as eve, harmful with more rights: says who runs it
as('eve', q{CREATE FUNCTION evil.who(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'evil.who runs as %', current_user;
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'leaked: %', (SELECT string_agg(s, ',') FROM public.secret);
    END IF;
    RETURN $1;
END $$});

sql('SELECT sdp.reset()');
as('eve', q{SELECT count(*) FROM shop.t WHERE k = 7 AND evil.who(1) = 1});
# a superuser's statement over app's table that calls eve's function
sql(q{SELECT count(*) FROM shop.t WHERE k = 8 AND id > 0 AND evil.who(2) = 2});
# the superuser's constants, which nobody else may read
sql(q{SELECT count(*) FROM shop.t WHERE v = 'superSECRET' AND k = 9});

# --- validate_index: whose rights
my ($out, $err) = psql_as('postgres', q{SELECT sample_query || ': ' || verdict FROM sdp.validate_index('shop.t_k', 1)
	WHERE sample_query ~ 'evil.who' ORDER BY 1});
like($out, qr/k = 7 AND evil.who\(1\) = 1: faster with the index/, "eve's statement was measured");
like($out, qr/k = 8 AND id > 0 AND evil.who\(2\) = 2: faster with the index/, "the superuser's statement was measured");
like($err, qr/evil.who runs as eve/, "eve's statement ran as eve");
like($err, qr/evil.who runs as app/, "the superuser's statement ran as app, the owner of the table it reads");
unlike($err, qr/evil.who runs as postgres|leaked/, '... never as the superuser calling validate_index');

# a superuser's statement over tables of two owners is neither planned nor run
sql(q{CREATE TABLE public.other (k int); INSERT INTO public.other VALUES (10); ANALYZE public.other;
	SELECT count(*) FROM shop.t JOIN public.other o USING (k) WHERE evil.who(3) = 3});
($out, $err) = psql_as('postgres', q{SELECT count(*) FROM sdp.validate_index('shop.t_k', 1) WHERE sample_query ~ 'who\(3\)'});
is($out, '0', "a superuser's statement over two owners' tables is not run");
like($err, qr/NOTICE:  1 statements of superusers over tables of several owners were not planned, nor run/,
	'... and counted in a NOTICE');
unlike($err, qr/evil.who runs as postgres/, '... not even planned as the superuser');

# a role granted validate_index acts only as roles whose privileges it has
($out, $err) = psql_as('delegate', q{SELECT count(*) FROM sdp.validate_index('shop.t_k', 1)});
is($out, '0', 'a delegate without the roles\' privileges runs none of their statements');
unlike($err, qr/evil.who runs as/, '... not eve\'s, not app\'s');
like($err, qr/NOTICE:  \d+ statements were not planned, nor run: they run as roles whose privileges you do not have/,
	'... and is told how many were left out');
sql('GRANT eve TO delegate');
($out, $err) = psql_as('delegate', q{SELECT string_agg(sample_query, ' / ') FROM sdp.validate_index('shop.t_k', 1)});
like($out, qr/^SELECT count\(\*\) FROM shop.t WHERE k = 7 AND evil.who\(1\) = 1$/,
	'a member of eve runs eve\'s statement, and only that');

# --- a statement run by validate_index cannot change the caller's hidden indexes
as('eve', q{CREATE FUNCTION evil.hider() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM sdp.hide_index('shop.t_pkey');
        PERFORM sdp.unhide_index('shop.t_k');
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'evil.hider: %', SQLERRM;
    END;
    RETURN 1;
END $$});
as('eve', q{SELECT count(*) FROM shop.t WHERE k = 11 AND evil.hider() = 1});
($out, $err) = psql_as('postgres', q{SELECT verdict FROM sdp.validate_index('shop.t_k', 1) WHERE sample_query ~ 'hider';
	SELECT count(*) FROM sdp.hidden_indexes()});
is($out, "faster with the index\n0", "eve's statement was measured both ways, and hid nothing in the caller's session");
like($err, qr/evil.hider: cannot call sdp.hide_index\(\) within a security-restricted operation/,
	'... hide_index refuses to run within a security-restricted operation');

# --- a statement that catches validate_index's timeout is not measured
as('eve', q{CREATE FUNCTION evil.stubborn() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. 3 LOOP
        BEGIN
            PERFORM pg_sleep(0.5);
        EXCEPTION WHEN query_canceled THEN
            RAISE NOTICE 'evil.stubborn caught a cancel';
        END;
    END LOOP;
    RETURN 1;
END $$});
as('eve', q{SELECT count(*) FROM shop.t WHERE k = 13 AND v = 'x' AND (SELECT evil.stubborn()) = 1});
($out, $err) = psql_as('postgres', q{SELECT verdict, ms_with_index IS NULL, ms_without_index IS NULL
	FROM sdp.validate_index('shop.t_k', 1, 200) WHERE sample_query ~ 'stubborn'});
like($err, qr/evil.stubborn caught a cancel/, 'the statement caught the timeout\'s cancel');
is($out, 'timed out both ways|t|t', '... and is reported as timed out, not as a measurement');

# --- an index the session hid is still measured with and without it
($out, $err) = psql_as('postgres', q{SELECT sdp.hide_index('shop.t_k');
	SELECT verdict || ' ' || runs FROM sdp.validate_index('shop.t_k', 2) WHERE sample_query ~ 'superSECRET';
	SELECT string_agg(index::text, ',') FROM sdp.hidden_indexes()});
is($out, "t\nfaster with the index 2\nshop.t_k", 'hidden by the session: measured both ways, and hidden again after');

# --- nobody else reads the superuser's constants
is(as('eve', q{SELECT count(*) FROM sdp.query_samples WHERE sample_query ~ 'superSECRET'}), '0',
	'sdp.query_samples: another user\'s constants are not shown');
is(as('eve', q{SELECT count(*) FILTER (WHERE sample_query = '<insufficient privilege>' AND queryid IS NULL
	                                       AND search_path IS NULL)
	              = count(*) FILTER (WHERE userid <> 'eve'::regrole),
	          count(*) FILTER (WHERE userid = 'eve'::regrole AND sample_query ~ 'evil.who\(1\)') FROM sdp.query_samples}),
	't|1', '... only <insufficient privilege>, no query id, no search_path; eve sees her own');
my $everything = as('eve', q{SELECT concat_ws(' ', (SELECT string_agg(q::text, ' ') FROM sdp.query_stats q),
	(SELECT string_agg(n::text, ' ') FROM sdp.n_plus_one n),
	(SELECT string_agg(s::text, ' ') FROM sdp.slow_queries s), sdp.metrics())});
unlike($everything, qr/superSECRET/, 'nor in query_stats, n_plus_one, slow_queries, metrics');
($out, $err) = psql_as('eve', q{SELECT * FROM sdp.validate_index('shop.t_k')});
like($err, qr/permission denied for function validate_index/, 'an ordinary role cannot validate');

# --- hiding is this session's only
my $s = $node->background_psql($db, on_error_stop => 0);
$s->query_safe(q{PREPARE p AS SELECT id FROM shop.t WHERE k = 5});
like($s->query_safe('EXPLAIN (COSTS OFF) EXECUTE p'), qr/t_k/, 'prepared statement uses the index');
$s->query_safe(q{SELECT sdp.hide_index('shop.t_k')});
unlike($s->query_safe('EXPLAIN (COSTS OFF) EXECUTE p'), qr/t_k/, '... and after hide_index is planned again without it');
like(sql('EXPLAIN (COSTS OFF) SELECT id FROM shop.t WHERE k = 5'), qr/t_k/, 'another session still uses it');
$s->query_safe(q{SELECT sdp.unhide_index('shop.t_k')});
like($s->query_safe('EXPLAIN (COSTS OFF) EXECUTE p'), qr/t_k/, 'unhidden: the prepared statement uses it again');
$s->quit;
is(as('eve', q{SELECT sdp.hide_index('shop.t_k'); SELECT sdp.hide_index('shop.t_pkey');
	SELECT count(*) FROM sdp.hidden_indexes()}), "t\nt\n2", 'an ordinary role hides for itself');
like(as('app', q{EXPLAIN (COSTS OFF) SELECT id FROM shop.t WHERE k = 5}), qr/t_k/, '... the owner still plans with it');

# --- hostile search_path strings
my $long = join(', ', map { "s$_" } 1 .. 80);
as('eve', q{SET search_path = "it's", "sch""ema", "üx", public; SELECT 41 AS hostile_path});
as('eve', qq{SET search_path = $long; SELECT 42, 43 AS long_path});
is(as('eve', q{SELECT search_path FROM sdp.query_samples WHERE sample_query ~ 'hostile_path'}),
	q{"it's", "sch""ema", "üx", public}, 'quotes and multibyte names are kept verbatim');
my $accents = 'é' x 600;
as('eve', qq{SELECT '$accents' AS accents});
is(as('eve', q{SELECT octet_length(sample_query) <= 1024, right(sample_query, 1) FROM sdp.query_samples
	WHERE sample_query ~ '^SELECT ''é'}), 't|é', 'a sample past max_query_text is cut on a character boundary');
is(as('eve', q{SELECT coalesce(search_path, 'NULL') || ' ' || sample_query FROM sdp.query_samples WHERE sample_query ~ 'long_path'}),
	'NULL SELECT 42, 43 AS long_path', 'a search_path past 255 bytes is not kept, the sample is');

# --- query_samples = off: nothing kept, shown or saved
sql(q{ALTER SYSTEM SET smart_dairy_perf.query_samples = off; SELECT pg_reload_conf()});
sleep 1;
as('eve', q{SELECT count(*) FROM shop.t WHERE k = 123 AND v = 'offSECRET'});
is(as('eve', q{SELECT count(*) FROM sdp.query_samples WHERE sample_query <> '<insufficient privilege>'}), '0', 'off: no sample shown');
$node->restart;
sql(q{ALTER SYSTEM RESET smart_dairy_perf.query_samples; SELECT pg_reload_conf()});
sleep 1;
is(sql(q{SELECT count(*) FILTER (WHERE sample_query IS NOT NULL), count(*) FILTER (WHERE q.query ~ 'k = \$1 AND v = \$2$')
	FROM sdp.query_samples s JOIN sdp.query_stats q USING (userid, dbid, queryid, toplevel)
	WHERE q.query !~ 'query_samples'}), '0|1',
	'off at shutdown: no sample was saved, and the shape made while off has none either');

# --- coverage when the caller may not see the statements: each counted
sql(q{CREATE ROLE dba2 LOGIN;
	GRANT EXECUTE ON FUNCTION sdp.recommend_indexes(numeric), sdp._recommend_indexes(numeric, text),
	                          sdp._index_advice(double precision, text) TO dba2});
my $hidden = as('dba2', q{SELECT count(*) FROM sdp.query_stats WHERE query = '<insufficient privilege>'
	AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND application_name IS DISTINCT FROM 'smart_dairy_perf maintenance'});
cmp_ok($hidden, '>', 1, "dba2 sees none of the others' $hidden statements");
($out, $err) = psql_as('dba2', q{SELECT count(*) FROM sdp.recommend_indexes()});
like($err, qr/NOTICE:  index advisor planned 0 of $hidden profiled statements \(0.0 % of their time\); not planned: $hidden permission \(100.0 %\)/,
	'... and the NOTICE counts each of them, not one');

# --- coverage with an empty workload
sql('SELECT sdp.reset()');
($out, $err) = psql_as('postgres', q{SELECT count(*) FROM sdp.recommend_indexes()});
is($out, '0', 'empty workload: no advice');
like($err, qr/NOTICE:  index advisor: no profiled statement in this database/, '... and the NOTICE says why');

$node->stop;
done_testing();
