# N+1 detection against ActiveRecord 6.1's own SQL (ruby-activerecord, ruby-pg) on
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

my $node = NPlus1Scenarios::dairy_node('activerecord');
my $app = "$NPlus1Scenarios::root/test/clients/activerecord_shop/shop.rb";

sub rails
{
	my ($scenario) = @_;
	return sub {
		$node->command_ok([ 'ruby', $app, $node->host, $node->port, 'dairy', $scenario ],
			"activerecord $scenario ran");
	};
}

my $farm_page = NPlus1Scenarios::positive($node, 'farm page (one association per row)', rails('farm_page'),
	[ 'farm lookup', 'SELECT "farms".* FROM "farms" WHERE "farms"."id" = $1 LIMIT $2', 'select_loop',
	  qr/FROM "products" WHERE "products"."category" = \$1/ ]);
my $orders = NPlus1Scenarios::positive($node, 'order list (two associations per row)', rails('order_list'),
	[ 'customer lookup', 'SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2', 'select_loop',
	  qr/FROM "orders" WHERE "orders"."status" = \$1/ ],
	[ 'payments lookup', 'SELECT "payments".* FROM "payments" WHERE "payments"."order_id" = $1', 'select_loop',
	  qr/FROM "orders" WHERE "orders"."status" = \$1/ ]);
my $details = NPlus1Scenarios::positive($node, 'order details (order -> items -> product)', rails('order_details'),
	[ 'items per order', 'SELECT "order_items".* FROM "order_items" WHERE "order_items"."order_id" = $1', 'select_loop',
	  qr/FROM "orders" WHERE "orders"."status" = \$1/ ],
	[ 'product per item', 'SELECT "products".* FROM "products" WHERE "products"."id" = $1 LIMIT $2', 'select_loop',
	  qr/FROM "order_items" WHERE "order_items"."order_id" = \$1/ ]);
my $restock = NPlus1Scenarios::positive($node, 'restock (row-by-row saves, each in BEGIN ... COMMIT)', rails('restock'),
	[ 'UPDATE per product', 'UPDATE "products" SET "stock" = $1 WHERE "products"."id" = $2', 'row_by_row_dml',
	  qr/FROM "products" WHERE "products"."farm_id" = \$1/ ]);

NPlus1Scenarios::negative($node, 'includes / preload / eager_load', rails('eager'));
NPlus1Scenarios::negative($node, 'job-queue worker (FOR UPDATE SKIP LOCKED)', rails('job_worker'));
NPlus1Scenarios::negative($node, 'insert_all: 200 rows in one INSERT into a table with foreign keys', rails('bulk_reviews'));
NPlus1Scenarios::negative($node, 'hot endpoint, 60 requests (request_id per request)', rails('hot_endpoint'));
NPlus1Scenarios::negative($node, 'keyset pagination (find_each)', rails('export_orders'));

NPlus1Scenarios::summary('ActiveRecord scenarios');

# the evidence beside each pattern
my $c = $orders->{'customer lookup'};
my $p = $orders->{'payments lookup'};
is($c->{loop_id}, $p->{loop_id}, 'customer and payments lookups: one loop');
is($c->{loop_shapes}, 2, 'of two shapes');
like($c->{suggestion}, qr/loops together with payments .*eager-load these associations together/,
	'the suggestion says to eager-load both');
is($c->{parent_rows}, '15.0', "the parent's 15 rows beside the 15 loads");
is($c->{max_repeats}, 15, '15 customer loads');
is($c->{tags}, '{"action": "order_list", "controller": "orders", "application": "DairyShop"}',
	"the action's query log tags, parsed");
# ActiveRecord binds its values as parameters: the examples show $n, and the tags
like($c->{sample}, qr/^SELECT "users".\* FROM "users" WHERE "users"."id" = \$1 LIMIT \$2 \/\*application:DairyShop/,
	'an example of the repeated statement as sent, with its tags (sdp.query_samples)');
like($c->{parent_sample}, qr/FROM "orders" WHERE "orders"."status" = \$1/, 'and one of its parent');
is($c->{parent_tags}, '{"action": "order_list", "controller": "orders", "application": "DairyShop"}',
	"the parent's tags, read from its example");
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
rails('bulk_reviews')->();
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
