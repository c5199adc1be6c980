# Plan advice against a hostile ordinary role (cases found by a review):
#  1. an ordinary role poisons the slow-query ring with a plan whose JSON
#     holds Infinity costs (SET seq_page_cost = 1e308): sdp.slow_query_advice,
#     sdp.report() and sdp.metrics() then fail for every role that sees it.
#  2. a statement raising SQLSTATE SDP01 with a non-JSON message leaves the
#     prepared statement sdp_explain_advice behind.
#  3. a statement that re-prepares sdp_explain_advice while it is planned
#     has an INSERT run under EXPLAIN ANALYZE although allow_writes = false.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('review2_advice');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.plan_capture = slow_analyze
smart_dairy_perf.plan_sample_rate = 1
smart_dairy_perf.slow_query_ms = 5
max_parallel_workers_per_gather = 0
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }
sub psql_err
{
	my ($stdout, $stderr);
	my $ret = $node->psql($db, $_[0], stdout => \$stdout, stderr => \$stderr);
	return $stderr;
}

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO mallory;
});

# 1
sql(q{
SET ROLE mallory;
CREATE TABLE big AS SELECT g, md5(g::text) AS s FROM generate_series(1, 300000) g;
ANALYZE big;
SET seq_page_cost = 1e308;
SELECT count(*) FROM big WHERE s LIKE '%zz%';
});
is(psql_err(q{SELECT count(*) FROM sdp.slow_query_advice}), '',
	'a captured plan with Infinity costs does not break sdp.slow_query_advice');
is(psql_err(q{SELECT length(sdp.report('html')) > 0}), '',
	'nor the report');
is(psql_err(q{SELECT length(sdp.metrics()) > 0}), '',
	'nor the metrics');
is(sql(q{SELECT count(*) > 0 FROM sdp.slow_query_advice WHERE finding = 'plan not readable'}), 't',
	'the unreadable plan is said to be so');

# 2
sql(q{CREATE FUNCTION public.sdp01() RETURNS int LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION USING ERRCODE = 'SDP01', MESSAGE = 'not json'; END$$});
is($node->safe_psql($db, q{SET ROLE mallory;
	DO $$BEGIN PERFORM * FROM sdp.explain_advice('SELECT public.sdp01()'); EXCEPTION WHEN OTHERS THEN NULL; END$$;
	SELECT count(*) FROM pg_prepared_statements}), 0,
	'no prepared statement left behind when the statement raises SDP01');

# 3
sql(q{
SET ROLE mallory;
CREATE TABLE mt (i int);
CREATE FUNCTION swap() RETURNS int LANGUAGE plpgsql VOLATILE AS
	$$BEGIN EXECUTE 'DEALLOCATE sdp_explain_advice';
	        EXECUTE 'PREPARE sdp_explain_advice AS INSERT INTO public.mt VALUES (666) RETURNING 1'; RETURN 1; END$$;
CREATE FUNCTION imm() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM public.swap(); RETURN 1; END$$;
});
like(psql_err(q{SET ROLE mallory; SELECT * FROM sdp.explain_advice('SELECT public.imm()')}),
	qr/the statement writes|ERROR/,
	'a statement swapped for an INSERT while planned is not run under ANALYZE without allow_writes');

$node->stop;
done_testing();
