# Plan advice for captured slow executions: under a pgbench load with
# plan_capture = slow_analyze, the slow executions keep their structured
# plans and sdp.slow_query_advice reads them; a plan over max_plan_json is
# said to be too large; other users' plans need pg_read_all_stats.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('slow_advice');
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

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE milk_records (id int, farm_id int, liters numeric, pad text);
INSERT INTO milk_records SELECT g, g % 5000, g % 40, repeat('m', 80) FROM generate_series(1, 300000) g;
VACUUM ANALYZE milk_records;
});

my $script = $node->basedir . '/farm.sql';
open my $fh, '>', $script or die $!;
print $fh "\\set f random(1, 4999)\nSELECT sum(liters) FROM milk_records WHERE farm_id = :f;\n";
close $fh;
$node->command_ok([ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', '4', '-f', $script,
	'-h', $node->host, '-p', $node->port, $db ], 'a pgbench load of slow farm lookups');

my $captured = sql(q{SELECT count(*) FROM sdp._slow_query_plans() WHERE plan_state = 'captured'});
cmp_ok($captured, '>', 0, "slow executions captured with their structured plan ($captured)");
is(sql(q{SELECT count(*) FROM sdp._slow_query_plans() p
	WHERE plan_state = 'captured' AND NOT (p.plan::jsonb -> 0 -> 'Plan' ? 'Actual Rows')}), 0,
	'every structured plan parses and carries actual rows');
like(sql(q{SELECT string_agg(DISTINCT suggestion, ' | ') FROM sdp.slow_query_advice
	WHERE query LIKE '%milk_records%' AND finding LIKE 'filter removes%'}),
	qr/CREATE INDEX ON public\.milk_records \(farm_id\);/,
	'the advice names the index the filter needs');
is(sql(q{SELECT count(DISTINCT executed_at) = count(DISTINCT executed_at) FILTER (WHERE finding LIKE 'filter removes%')
	FROM sdp.slow_query_advice WHERE query LIKE '%milk_records%'}), 't',
	'every captured execution of it has the finding');

# after the index: fast, so nothing new is captured for it, and the advice
# for a fresh capture has no filter finding
sql(q{CREATE INDEX ON milk_records (farm_id); SELECT sdp.reset()});
sql(q{SET smart_dairy_perf.slow_query_ms = 0; SELECT sum(liters) FROM milk_records WHERE farm_id = 42});
is(sql(q{SELECT count(*) FROM sdp.slow_query_advice WHERE query LIKE '%milk_records%' AND finding LIKE 'filter removes%'}),
	0, 'with the index the finding is gone');

# another role sees none of it
sql(q{CREATE ROLE viewer LOGIN});
is($node->safe_psql($db, q{SET ROLE viewer; SELECT count(*) FROM sdp.slow_query_advice}), 0,
	'another role reads no advice on the superuser\'s statements');
sql(q{GRANT pg_read_all_stats TO viewer});
cmp_ok($node->safe_psql($db, q{SET ROLE viewer; SELECT count(*) FROM sdp._slow_query_plans()}), '>', 0,
	'with pg_read_all_stats it does');

# a structured plan larger than max_plan_json is not kept, and that is said
$node->append_conf('postgresql.conf', "smart_dairy_perf.max_plan_json = 256\n");
$node->restart;
sql(q{SET smart_dairy_perf.slow_query_ms = 0;
SELECT count(*) FROM milk_records a JOIN milk_records b USING (id) WHERE a.farm_id < 3});
is(sql(q{SELECT count(*) > 0 FROM sdp.slow_query_advice WHERE finding = 'plan too large for advice'}), 't',
	'a plan over max_plan_json is reported as too large');

unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'no backend crashed');
$node->stop;
done_testing();
