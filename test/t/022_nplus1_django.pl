# N+1 detection against Django 3.2's own SQL (python3-django, psycopg2) on
# the dairy schema: lazy loading of one association per row, of two, of a
# nested association, row-by-row saves must be flagged with the right
# parent; the eager-loading forms, a job-queue worker, a bulk INSERT ...
# SELECT into a table with foreign keys, a hot endpoint and keyset
# pagination must not.  Then the tags, the parent's rows, the loop's
# members, and the patterns across a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NPlus1Scenarios;

my $node = NPlus1Scenarios::dairy_node('django');
my $app = "$NPlus1Scenarios::root/test/clients/django_shop/shop.py";

sub django
{
	my ($scenario) = @_;
	return sub {
		$node->command_ok([ '/usr/bin/python3', $app, $node->host, $node->port, 'dairy', $scenario ],
			"django $scenario ran");
	};
}

my $farm_page = NPlus1Scenarios::positive($node, 'farm page (one association per row)', django('farm_page'),
	[ 'farm lookup', '%FROM "farms" WHERE "farms"."id" = $1 LIMIT $2', 'select_loop',
	  qr/FROM "products" WHERE "products"."category" = \$1/ ]);
my $orders = NPlus1Scenarios::positive($node, 'order list (two associations per row)', django('order_list'),
	[ 'customer lookup', '%FROM "users" WHERE "users"."id" = $1 LIMIT $2', 'select_loop',
	  qr/FROM "orders" WHERE "orders"."status" = \$1/ ],
	[ 'payments lookup', '%FROM "payments" WHERE "payments"."order_id" = $1', 'select_loop',
	  qr/FROM "orders" WHERE "orders"."status" = \$1/ ]);
my $details = NPlus1Scenarios::positive($node, 'order details (order -> items -> product)', django('order_details'),
	[ 'items per order', '%FROM "order_items" WHERE "order_items"."order_id" = $1', 'select_loop',
	  qr/FROM "orders" WHERE "orders"."status" = \$1/ ],
	[ 'product per item', '%FROM "products" WHERE "products"."id" = $1 LIMIT $2', 'select_loop',
	  qr/FROM "order_items" WHERE "order_items"."order_id" = \$1/ ]);
my $restock = NPlus1Scenarios::positive($node, 'restock (row-by-row saves)', django('restock'),
	[ 'UPDATE per product', 'UPDATE "products" SET %', 'row_by_row_dml',
	  qr/FROM "products" WHERE "products"."farm_id" = \$1/ ]);

NPlus1Scenarios::negative($node, 'select_related / prefetch_related', django('order_list_eager'));
NPlus1Scenarios::negative($node, 'job-queue worker (FOR UPDATE SKIP LOCKED)', django('job_worker'));
NPlus1Scenarios::negative($node, 'bulk INSERT ... SELECT into a table with foreign keys', django('bulk_reviews'));
NPlus1Scenarios::negative($node, 'hot endpoint, 60 requests', django('hot_endpoint'));
NPlus1Scenarios::negative($node, 'keyset pagination', django('export_orders'));

NPlus1Scenarios::summary('Django scenarios');

# the evidence beside each pattern
my $c = $orders->{'customer lookup'};
my $p = $orders->{'payments lookup'};
is($c->{loop_id}, $p->{loop_id}, 'customer and payments lookups: one loop');
is($c->{loop_shapes}, 2, 'of two shapes');
like($c->{suggestion}, qr/loops together with payments .*eager-load these associations together/,
	'the suggestion says to eager-load both');
is($c->{parent_rows}, '15.0', "the parent's 15 rows beside the 15 loads");
is($c->{max_repeats}, 15, '15 customer loads');
like($c->{tags}, qr/"action": "order_list"/, "the view's tags, parsed");
like($c->{tags}, qr/"framework": "django:3.2"/, 'URL-encoded values decoded');
like($c->{tags}, qr/"traceparent": "00-5bd66ef5/, 'the traceparent kept');
like($c->{sample}, qr/WHERE "users"."id" = \d+ LIMIT 21 \/\*controller='shop',action='order_list'/,
	'an example of the repeated statement with its real constants (sdp.query_samples)');
like($c->{parent_sample}, qr/WHERE "orders"."status" = 'paid'/, "and one of its parent");
like($c->{parent_tags}, qr/"action": "order_list"/, "the parent's tags, read from its example");
my $it = $details->{'items per order'};
my $pr = $details->{'product per item'};
is($pr->{max_repeats}, 36, '12 orders x 3 items: 36 product loads');
like($pr->{suggestion}, qr/runs 3 times for each row of its parent.*nested association/,
	'the nested load is named as such');
is($restock->{'UPDATE per product'}{parent_rows}, '24.0', 'the parent of the saves returned 24 rows');
is($farm_page->{'farm lookup'}{loop_shapes}, 1, 'a loop of one shape');

# the foreign-key checks are there when asked for
$node->append_conf('postgresql.conf', "smart_dairy_perf.nplus1_include_internal = on\n");
$node->reload;
django('bulk_reviews')->();
is($node->safe_psql('dairy', q{SELECT string_agg(DISTINCT origin, ',') FROM sdp.n_plus_one
	WHERE query LIKE 'SELECT 1 FROM ONLY%FOR KEY SHARE OF x'}),
	'foreign_key_check', 'with nplus1_include_internal the RI checks are patterns, marked as such');
$node->append_conf('postgresql.conf', "smart_dairy_perf.nplus1_include_internal = off\n");
$node->reload;

# patterns, with their loops, tags and parent rows, survive a clean restart
my $state = q{SELECT string_agg(queryid || ' ' || loop_id || ' ' || coalesce(avg_parent_rows::text, '-') || ' '
	|| coalesce(tags::text, '-') || ' ' || occurrences, E'\n' ORDER BY queryid, loop_id) FROM sdp.n_plus_one};
my $saved = $node->safe_psql('dairy', $state);
$node->restart;
is($node->safe_psql('dairy', $state), $saved, 'patterns with loops, tags and parent rows survive a restart');
like(slurp_file($node->logfile), qr/restored statistics of \d+ queries and \d+ N\+1 patterns/,
	'restored from the statistics file');

$node->stop;
done_testing();
