# More query shapes than max_queries: the least-used are evicted and
# counted, the table never grows past its size, and busy shapes stay.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('evict');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.max_queries = 100
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION smart_dairy_perf');

# Column aliases are not part of the query id: shapes differ by their
# number of columns instead.
sub shape
{
	my ($width) = @_;
	return 'SELECT ' . join(', ', 1 .. $width) . ' AS shape_end';
}
my $busy = 'SELECT count(*) AS busy_col FROM pg_namespace WHERE oid = 11';

# one busy shape, run often before and during the flood
$node->safe_psql('postgres', join(';', ($busy) x 200));

# 300 distinct shapes, each run once, interleaved with the busy one
for my $batch (0 .. 9)
{
	my $sql = join(';',
		(map { shape($batch * 30 + $_) } 1 .. 30),
		($busy) x 20);
	$node->safe_psql('postgres', $sql);
}

my ($entries, $evictions, $max) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT entries, evictions, max_queries FROM sdp.profiler_info');
cmp_ok($entries, '<=', 100, "entries ($entries) never exceed max_queries");
cmp_ok($evictions, '>=', 200, "evictions counted ($evictions)");
is($max, 100, 'max_queries as configured');

is( $node->safe_psql('postgres',
		"SELECT calls FROM sdp.query_stats WHERE query LIKE '%AS busy_col FROM%'"),
	400,
	'the busy shape survived eviction with all its calls');

my $shapes = $node->safe_psql('postgres',
	"SELECT count(*) FROM sdp.query_stats WHERE query LIKE 'SELECT \$1, \$2, %'");
cmp_ok($shapes, '<', 300, "most one-off shapes evicted ($shapes left)");
cmp_ok($shapes, '>', 0, 'recent one-off shapes kept');

# reset clears the eviction count too
$node->safe_psql('postgres', 'SELECT sdp.reset()');
is($node->safe_psql('postgres', 'SELECT evictions FROM sdp.profiler_info'),
	0, 'reset clears the eviction counter');

$node->stop;
done_testing();
