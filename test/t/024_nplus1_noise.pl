# N+1 detection without noise: the loops PostgreSQL runs itself (foreign-key
# checks and cascades, information_schema's SQL functions called per row)
# and the extension's own (sdp.report(), sdp.metrics(), sdp.snapshot(),
# maintenance) are not patterns by default, are with
# nplus1_include_internal (marked by origin), and the report's findings
# leave the extension's own statements out unless report_own_statements;
# the statistics keep counting them.  Then the cost-saving paths: a loop
# nested in PL/pgSQL under track = top is still found and timed once
# confirmed, and its executions reach the view in batches.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('noise');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.slow_query_ms = 0
smart_dairy_perf.max_slow_queries = 1000
});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE farms (id int PRIMARY KEY, name text);
INSERT INTO farms SELECT g, 'farm ' || g FROM generate_series(1, 50) g;
CREATE TABLE products (id int PRIMARY KEY, farm_id int REFERENCES farms ON DELETE CASCADE,
                       sku int REFERENCES farms (id), name text);
CREATE FUNCTION restock() RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int := 0; v text;
BEGIN
    FOR i IN 1..40 LOOP
        SELECT name INTO v FROM farms WHERE id = 1 + i % 50;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
SELECT sdp.reset();
});

sub patterns
{
	return $node->safe_psql($db, q{SELECT coalesce(string_agg(origin || ': ' || left(query, 60), E'\n'
		ORDER BY origin, query), '') FROM sdp.n_plus_one});
}

# PostgreSQL's own loops
$node->safe_psql($db, 'INSERT INTO products SELECT g, 1 + g % 50, 1 + g % 50, $$p$$ FROM generate_series(1, 200) g');
$node->safe_psql($db, 'DELETE FROM farms WHERE id <= 20');    # cascades, one DELETE per farm
$node->safe_psql($db, q{SELECT i.indexrelid::regclass, (information_schema._pg_expandarray(i.indkey)).n
	FROM pg_index i});    # an introspection query: a system SQL function per row
# the extension's own
$node->safe_psql($db, q{SELECT sdp.snapshot('one')});
$node->safe_psql($db, q{SELECT sdp.report('markdown')});
$node->safe_psql($db, q{SELECT sdp.report('html')});
$node->safe_psql($db, q{SELECT sdp.metrics()});
$node->safe_psql($db, q{SELECT sdp.snapshot('two')});
$node->safe_psql($db, q{SELECT count(*) FROM sdp.run_maintenance()});
is(patterns(), '', 'no pattern from foreign-key checks, cascades, system functions or the extension');

# with nplus1_include_internal, they are patterns, each marked
$node->append_conf('postgresql.conf', "smart_dairy_perf.nplus1_include_internal = on\n");
$node->reload;
$node->safe_psql($db, 'INSERT INTO farms SELECT g, $$f$$ FROM generate_series(1, 20) g');
$node->safe_psql($db, 'INSERT INTO products SELECT g, 1 + g % 50, 1 + g % 50, $$p$$ FROM generate_series(201, 400) g');
$node->safe_psql($db, 'DELETE FROM farms WHERE id <= 20');
$node->safe_psql($db, q{SELECT i.indexrelid::regclass, (information_schema._pg_expandarray(i.indkey)).n
	FROM pg_index i});    # an introspection query: a system SQL function per row
$node->safe_psql($db, q{SELECT sdp.report('markdown')});
my $internal = patterns();
like($internal, qr/^foreign_key_check: SELECT 1 FROM ONLY "public"."farms" x WHERE "id" OPERATOR/m,
	'the foreign-key checks of an INSERT ... SELECT, when asked for');
like($internal, qr/^foreign_key_check: DELETE FROM ONLY "public"."products"/m, 'the cascaded deletes');
like($internal, qr/^system_function: select \$1\[s\]/m,
	"information_schema's _pg_expandarray() called per row");
like($internal, qr/^extension: /m, "the report's own loops");
unlike($internal, qr/^application: /m, 'none of them taken for the application');
is($node->safe_psql($db, q{SELECT count(*) || ' ' || count(DISTINCT loop_id) || ' ' || string_agg(DISTINCT origin, ',')
	FROM sdp.n_plus_one WHERE parent_query LIKE 'DELETE FROM farms%'}), '3 1 foreign_key_check',
	'a DELETE with a cascade and a NO ACTION key: one loop of three RI statements per row');
$node->append_conf('postgresql.conf', "smart_dairy_perf.nplus1_include_internal = off\n");
$node->reload;
$node->safe_psql($db, 'SELECT sdp.reset()');

# the report leaves the extension's own statements out of its findings
$node->safe_psql($db, q{SELECT sdp.report('text')});
$node->safe_psql($db, q{SELECT count(*) FROM farms});
my $report = $node->safe_psql($db, q{SELECT sdp.report('text')});
my ($top) = $report =~ /(Top queries by total time.*?)\n\n/s;
my ($slow) = $report =~ /(Slow queries.*?)\n\n/s;
like($top, qr/SELECT count\(\*\) FROM farms/, "the application's statement among the top queries");
unlike($top, qr/sdp\./, 'none of the extension\'s among them');
like($slow, qr/SELECT count\(\*\) FROM farms/, 'nor among the slow queries, where the application\'s is');
unlike($slow, qr/sdp\./, '... and the extension\'s calls are not');
my $own = $node->safe_psql($db, q{SET smart_dairy_perf.report_own_statements = on; SELECT sdp.report('text')});
like($own, qr/Top queries by total time.*?sdp\.report/s, 'report_own_statements shows them');
cmp_ok($node->safe_psql($db, q{SELECT calls FROM sdp.query_totals WHERE query LIKE 'SELECT sdp.report(%'}),
	'>=', 2, 'the statistics count them either way');

# a loop nested in PL/pgSQL with track = top: found, and timed once confirmed
$node->safe_psql($db, 'SELECT restock()');
my $row = $node->safe_psql($db, q{SELECT occurrences || ' ' || max_repeats || ' ' || (total_exec_ms > 0)::text
	|| ' ' || (parent_query LIKE 'SELECT restock()%')::text
	FROM sdp.n_plus_one WHERE query LIKE 'SELECT name %FROM farms WHERE id = 1 + i % 50'});
is($row, '1 40 true true', 'nested loop: one burst of 40, timed, driven by the calling statement');
# executions reach the view when the loop's unit ends, not later
$node->safe_psql($db, q{DO $$ BEGIN FOR i IN 1..23 LOOP PERFORM name FROM farms WHERE id = i + 20; END LOOP; END $$});
is($node->safe_psql($db, q{SELECT max_repeats FROM sdp.n_plus_one WHERE query LIKE 'SELECT name FROM farms WHERE id = i + %'}),
	'23', 'a DO block\'s loop complete in the view once the next statement starts');

$node->stop;
done_testing();
