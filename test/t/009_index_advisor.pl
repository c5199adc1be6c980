# Index advisor, proven on a workload: tables with only primary keys, a
# pgbench workload of dairy lookups, sdp.recommend_indexes(), the DDL
# applied, the same workload again.  The recommended indexes must be the
# right ones (equality before sort columns, the lower(email) expression,
# the join key, a partial index for unread notifications, and the key a
# statement inside a PL/pgSQL function filters on, which only the
# predicates sampled from executed plans show), be used, and make the
# workload faster; queries an existing index already serves, and small
# tables, get nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('advisor');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
shared_buffers = 128MB
smart_dairy_perf.predicate_sample_rate = 0.2
});
$node->start;
my $db = 'postgres';
sub sql { return $node->safe_psql($db, $_[0]); }

sql(q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE farms (id int PRIMARY KEY, region text);
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, full_name text);
CREATE TABLE products (id int PRIMARY KEY, farm_id int NOT NULL, name text, price numeric);
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, status text,
                     total numeric, created_at timestamptz NOT NULL);
CREATE TABLE order_items (id int PRIMARY KEY, order_id int NOT NULL, product_id int NOT NULL,
                          quantity int, unit_price numeric);
CREATE TABLE payments (id int PRIMARY KEY, order_id int NOT NULL, amount numeric);
CREATE INDEX payments_order_id ON payments (order_id);   -- already served
CREATE TABLE reviews (id int PRIMARY KEY, product_id int NOT NULL, rating int);
CREATE TABLE notifications (id int PRIMARY KEY, user_id int NOT NULL, read_at timestamptz);
-- the profiler sees "SELECT product_rating($1)", not the statement inside
CREATE FUNCTION product_rating(p_product int) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT avg(rating) FROM reviews WHERE product_id = p_product);
END $$;
INSERT INTO farms SELECT g, 'r' || g % 5 FROM generate_series(1, 50) g;
INSERT INTO users SELECT g, 'User' || g || '@dairy.example', 'user ' || g FROM generate_series(1, 40000) g;
INSERT INTO products SELECT g, 1 + g % 50, 'product ' || g, g % 100 FROM generate_series(1, 5000) g;
INSERT INTO orders SELECT g, 1 + g % 40000, 'paid', g % 500, now() - g * interval '1 minute'
  FROM generate_series(1, 200000) g;
INSERT INTO order_items SELECT g, 1 + g % 200000, 1 + g % 5000, 1 + g % 3, g % 50
  FROM generate_series(1, 500000) g;
INSERT INTO payments SELECT g, g, g % 500 FROM generate_series(1, 200000) g;
INSERT INTO reviews SELECT g, 1 + g % 5000, 1 + g % 5 FROM generate_series(1, 200000) g;
-- one notification in 20 is unread
INSERT INTO notifications SELECT g, 1 + g % 40000, CASE WHEN g % 20 <> 0 THEN now() END
  FROM generate_series(1, 300000) g;
VACUUM ANALYZE;
});

my $script = $node->basedir . '/workload.sql';
open my $fh, '>', $script or die $!;
print $fh <<'W';
\set uid random(1, 40000)
\set oid random(1, 200000)
\set pid random(1, 5000)
SELECT id, status, total FROM orders WHERE user_id = :uid ORDER BY created_at DESC LIMIT 10;
SELECT sum(quantity * unit_price) FROM order_items WHERE order_id = :oid;
SELECT id, full_name FROM users WHERE lower(email) = lower('user' || :uid || '@dairy.example');
SELECT p.name, oi.quantity FROM order_items oi JOIN products p ON p.id = oi.product_id WHERE oi.order_id = :oid;
SELECT amount FROM payments WHERE order_id = :oid;
SELECT count(*) FROM farms WHERE region = 'r1';
SELECT product_rating(:pid);
SELECT count(*) FROM notifications WHERE user_id = :uid AND read_at IS NULL;
W
close $fh;

sub workload
{
	my ($ret, $out, $err) = $node->psql($db, 'SELECT 1');
	my $result = `pgbench -n -c 2 -j 2 -T 8 -f $script -h @{[$node->host]} -p @{[$node->port]} $db 2>&1`;
	$result =~ /tps = ([\d.]+)/ or die "pgbench failed: $result";
	return $1;
}

sql('SELECT sdp.reset()');
my $tps_before = workload();

my $advice = sql(q{SELECT "table" || ' (' || columns || ')' FROM sdp.recommend_indexes() ORDER BY 1});
diag("recommended: " . join('; ', split /\n/, $advice));
my @recs = split /\n/, $advice;
ok((grep { $_ eq 'orders (user_id, created_at)' } @recs), 'orders: equality column before the sort column');
ok((grep { $_ eq 'users ((lower(email)))' } @recs), 'users: the lower(email) expression');
ok((grep { $_ eq 'order_items (order_id)' } @recs), 'order_items: the key the lookups and the join use');
ok((grep { $_ eq 'notifications (user_id WHERE (read_at IS NULL))' } @recs),
	'notifications: a partial index for the unread ones');
ok((grep { $_ eq 'reviews (product_id)' } @recs),
	'reviews: the key of the statement inside product_rating()');
like(sql(q{SELECT sample_query FROM sdp.recommend_indexes() WHERE "table" = 'reviews'::regclass}),
	qr{^/\* observed in executed plans \*/ SELECT \* FROM public\.reviews WHERE product_id OPERATOR\(pg_catalog\.=\) \$1$},
	'... found through the predicates sampled from executed plans');
is(sql(q{SELECT kind || ': ' || predicate || ' removes ' || round(removed_fraction, 3)
	FROM sdp.observed_predicates WHERE table_name = 'reviews'}),
	'filter: product_id = ? removes 1.000', 'sdp.observed_predicates shows the filter and what it threw away');
ok(!(grep { /^payments/ } @recs), 'nothing for payments: an existing index serves it');
ok(!(grep { /^farms/ } @recs), 'nothing for farms: below the size threshold');
ok(!(grep { /^orders \(user_id\)$/ } @recs), 'no single-column index the composite one serves');
is(sql(q{SELECT count(*) FROM sdp.recommend_indexes() WHERE improvement_pct >= 10 AND
	est_cost_after < est_cost_before AND cardinality(queryids) > 0 AND est_size_bytes > 0
	AND ddl LIKE 'CREATE INDEX CONCURRENTLY %'}), scalar(@recs), 'every row is complete and ready to run');
is(sql(q{SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'i'}), 9,
	'what-if planning created nothing (8 primary keys and payments_order_id)');

# apply the advice as a DBA would (\gexec), then the same workload again
my $ddl = sql(q{SELECT ddl FROM sdp.recommend_indexes()});
sql($_) for split /\n/, $ddl;
sql('ANALYZE');
sql('SELECT sdp.reset()');
sql('SELECT pg_stat_reset()');
my $tps_after = workload();
sql('SELECT pg_stat_force_next_flush()');
my $unused = sql(q{SELECT string_agg(indexrelname, ', ') FROM pg_stat_user_indexes
	WHERE schemaname = 'public' AND indexrelname LIKE '%\_idx' AND idx_scan = 0});
is($unused, '', 'every recommended index is used by the workload');
diag(sprintf('workload before %.0f tps, after the recommended indexes %.0f tps (%.1fx)',
	$tps_before, $tps_after, $tps_after / $tps_before));
cmp_ok($tps_after, '>', 2 * $tps_before, 'the workload is at least twice as fast');

# the same workload now: everything is served
is(sql(q{SELECT count(*) FROM sdp.recommend_indexes()}), 0,
	'nothing is recommended once existing indexes serve the workload');

$node->stop;
done_testing();
