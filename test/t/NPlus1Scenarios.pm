# Shared by the N+1 TAP tests with real ORMs (022 Django, 023 ActiveRecord):
# a cluster with the dairy schema (test/workload/schema.sql, its tables and
# a few rows of each), and scenario bookkeeping: each positive scenario must
# add exactly the patterns it names, each with the right kind and parent;
# each negative must add none.  Precision and recall count every pattern.
package NPlus1Scenarios;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);

our $root = abs_path(dirname(__FILE__) . '/../..');

my ($tp, $fn, $fp, $tn) = (0, 0, 0, 0);

# A started cluster with the extension and the dairy tables.
sub dairy_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'smart_dairy_perf'",
		'max_connections = 40', @conf) . "\n");
	$node->start;

	# the schema's tables, without its million rows
	my $schema = slurp_file("$root/test/workload/schema.sql");
	my $ddl = substr($schema, 0, index($schema, "\nINSERT INTO"));
	$ddl =~ s/^\\set.*$//mg;
	$ddl =~ s/^SELECT setseed.*$//mg;
	$node->safe_psql('postgres', 'CREATE DATABASE dairy');
	$node->safe_psql('dairy', qq{
CREATE EXTENSION smart_dairy_perf;
$ddl
INSERT INTO farms (name, region) SELECT 'Farm ' || g, 'Dhaka' FROM generate_series(1, 5) g;
INSERT INTO users (email, full_name, region)
SELECT 'user' || g || '\@example.com', 'Customer ' || g, 'Sylhet' FROM generate_series(1, 40) g;
INSERT INTO products (farm_id, sku, name, category, price, stock)
SELECT 1 + g % 5, 'SKU-' || g, 'Product ' || g,
       (ARRAY['milk','yogurt','ghee','butter','cheese','paneer','lassi'])[1 + g % 7], 10 + g, 100
  FROM generate_series(1, 120) g;
INSERT INTO orders (user_id, status, total, created_at)
SELECT 1 + g % 40, (ARRAY['paid','delivered','shipped'])[1 + g % 3], 0, now() - interval '1 day' * g
  FROM generate_series(1, 60) g;
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o, 1 + (o * 7 + i) % 120, i, 12.5 FROM generate_series(1, 60) o, generate_series(1, 3) i;
INSERT INTO payments (order_id, amount, method, status, paid_at)
SELECT id, 40, 'bkash', 'captured', now() FROM orders;
INSERT INTO notifications (user_id, kind, payload)
SELECT 1 + g % 40, 'order_status', jsonb_build_object('n', g) FROM generate_series(1, 30) g;
ANALYZE;
SELECT sdp.reset();
});
	return $node;
}

sub patterns_now
{
	my ($node) = @_;
	return $node->safe_psql('dairy', 'SELECT count(*) FROM sdp.n_plus_one');
}

# The pattern of a repeated statement whose text is LIKE $like: a hash, or undef.
sub pattern
{
	my ($node, $like) = @_;
	my $row = $node->safe_psql('dairy', qq{
		SELECT kind || E'\\x1f' || coalesce(parent_query, '-') || E'\\x1f' || nested::text || E'\\x1f'
		       || max_repeats || E'\\x1f' || coalesce(avg_parent_rows::text, '-') || E'\\x1f'
		       || cardinality(loop_queryids) || E'\\x1f' || loop_id || E'\\x1f'
		       || coalesce(tags::text, '-') || E'\\x1f' || coalesce(sample_query, '-') || E'\\x1f'
		       || coalesce(parent_sample_query, '-') || E'\\x1f' || coalesce(parent_tags::text, '-') || E'\\x1f'
		       || coalesce(suggestion, '-')
		  FROM sdp.n_plus_one WHERE query LIKE '$like' ORDER BY last_seen DESC LIMIT 1});
	return undef if $row eq '';
	my @f = split /\x1f/, $row, 12;
	return { kind => $f[0], parent => $f[1], nested => $f[2], max_repeats => $f[3],
		parent_rows => $f[4], loop_shapes => $f[5], loop_id => $f[6], tags => $f[7],
		sample => $f[8], parent_sample => $f[9], parent_tags => $f[10], suggestion => $f[11] };
}

# A positive scenario: run it, then each expected pattern
# [ name, query LIKE, kind, parent regexp ] must be there; nothing else new.
sub positive
{
	my ($node, $scenario, $run, @expected) = @_;
	my $before = patterns_now($node);
	$run->();
	my %found;
	for my $e (@expected)
	{
		my ($name, $like, $kind, $parent_re) = @$e;
		my $p = pattern($node, $like);
		my $ok = defined $p && $p->{kind} eq $kind && $p->{parent} =~ $parent_re;
		$ok ? $tp++ : $fn++;
		ok($ok, "$scenario: $name flagged as $kind with the right parent")
		  or diag(defined $p ? "got kind=$p->{kind} parent=$p->{parent}" : 'not flagged');
		$found{$name} = $p;
	}
	my $extra = patterns_now($node) - $before - scalar(grep { defined $found{$_->[0]} } @expected);
	$fp += $extra if $extra > 0;
	is($extra, 0, "$scenario: no other pattern");
	return \%found;
}

# A negative scenario: run it; no pattern may appear.
sub negative
{
	my ($node, $scenario, $run) = @_;
	my $before = patterns_now($node);
	$run->();
	my $extra = patterns_now($node) - $before;
	$extra > 0 ? ($fp += $extra) : $tn++;
	is($extra, 0, "$scenario: not flagged")
	  or diag($node->safe_psql('dairy',
		'SELECT query, parent_query, origin FROM sdp.n_plus_one ORDER BY last_seen DESC LIMIT ' . $extra));
}

# Precision and recall over the scenarios of this file, reported and asserted.
sub summary
{
	my ($label) = @_;
	my $precision = $tp / (($tp + $fp) || 1);
	my $recall = $tp / (($tp + $fn) || 1);
	diag(sprintf('%s: %d true positives, %d false negatives, %d false positives, '
		  . '%d true negatives; precision %.2f, recall %.2f', $label, $tp, $fn, $fp, $tn,
		  $precision, $recall));
	is($precision, 1, "$label: precision 1.0");
	is($recall, 1, "$label: recall 1.0");
}

1;
