# N+1 detection with real clients: psql, pgbench (simple and extended
# protocol) and a libpq client using prepared and unnamed statements.
# Every positive scenario must be flagged with the right kind and parent,
# every negative one must not be; precision and recall are reported.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $node = PostgreSQL::Test::Cluster->new('nplus1');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
max_connections = 40
smart_dairy_perf.nplus1_log = on
});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL);
INSERT INTO orders SELECT g, g % 50 FROM generate_series(1, 2000) g;
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, stock int);
INSERT INTO items SELECT g, 'item ' || g, g * 1.5, 1000 FROM generate_series(1, 2000) g;
CREATE TABLE audit (id serial PRIMARY KEY, msg text);
CREATE TABLE client_orders (id int PRIMARY KEY, customer int);
INSERT INTO client_orders SELECT g, g % 10 FROM generate_series(1, 100) g;
CREATE TABLE client_items (id int PRIMARY KEY, name text, price numeric, stock int);
INSERT INTO client_items SELECT g, 'ci ' || g, g, 10 FROM generate_series(1, 100) g;
CREATE FUNCTION order_names(c int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r record; v text; n int := 0;
BEGIN
    FOR r IN SELECT id FROM orders WHERE customer = c ORDER BY id LIMIT 20 LOOP
        SELECT name INTO v FROM items WHERE id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
SELECT sdp.reset();
});

# build the libpq client
my $client = $node->basedir . '/nplus1_client';
my $src = abs_path(dirname(__FILE__) . '/../clients/nplus1_client.c');
my $incdir = `pg_config --includedir`; chomp $incdir;
my $libdir = `pg_config --libdir`; chomp $libdir;
system('gcc', '-O2', "-I$incdir", '-o', $client, $src, "-L$libdir", '-lpq') == 0
  or BAIL_OUT('cannot build the libpq client');
my $conninfo = 'host=' . $node->host . ' port=' . $node->port . " dbname=$db";

sub psql_script
{
	my ($sql) = @_;
	my $file = $node->basedir . '/script.sql';
	open my $fh, '>', $file or die $!;
	print $fh $sql;
	close $fh;
	$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file,
		'-h', $node->host, '-p', $node->port, $db ], 'psql script ran');
}

sub pgbench
{
	my ($script, @opts) = @_;
	my $file = $node->basedir . '/bench.sql';
	open my $fh, '>', $file or die $!;
	print $fh $script;
	close $fh;
	$node->command_ok([ 'pgbench', '-n', @opts, '-f', $file,
		'-h', $node->host, '-p', $node->port, $db ], "pgbench @opts");
}

sub client
{
	my ($mode, $n) = @_;
	$node->command_ok([ $client, $conninfo, $mode, $n ], "libpq client $mode");
}

# the pattern row for a repeated statement, or undef
sub pattern
{
	my ($like) = @_;
	my $row = $node->safe_psql($db, qq{
		SELECT kind || '|' || coalesce(parent_query, '-') || '|' || CASE WHEN nested THEN 't' ELSE 'f' END || '|'
		       || occurrences || '|' || max_repeats || '|' || coalesce(suggestion, '-')
		  FROM sdp.n_plus_one WHERE query LIKE '$like'});
	return $row eq '' ? undef : [ split /\|/, $row, 6 ];
}

my ($tp, $fn, $fp, $tn) = (0, 0, 0, 0);

sub expect_flag
{
	my ($name, $like, $kind, $parent_like, $nested) = @_;
	my $p = pattern($like);
	if (!defined $p)
	{
		$fn++;
		fail("$name: flagged");
		return;
	}
	my $ok = $p->[0] eq $kind && $p->[2] eq ($nested ? 't' : 'f')
	  && (!defined $parent_like || $p->[1] =~ $parent_like);
	$ok ? $tp++ : $fn++;
	ok($ok, "$name: flagged as $kind" . ($nested ? ' (nested)' : '')
		  . (defined $parent_like ? ' with the right parent' : ''))
	  or diag("got kind=$p->[0] parent=$p->[1] nested=$p->[2]");
	return $p;
}

sub expect_clean
{
	my ($name, $like) = @_;
	my $p = pattern($like);
	defined $p ? $fp++ : $tn++;
	ok(!defined $p, "$name: not flagged");
}

my $twelve = sub { my ($tmpl) = @_; join('', map { sprintf($tmpl, $_) } 1 .. 12) };

# P1: psql, explicit transaction: the ORM loop after its parent
psql_script("BEGIN;\nSELECT id FROM orders WHERE customer = 1 LIMIT 12;\n"
	  . $twelve->("SELECT name FROM items WHERE id = %d;\n") . "COMMIT;\n");
my $p1 = expect_flag('psql transaction loop', 'SELECT name FROM items WHERE id = $1',
	'select_loop', qr/^SELECT id FROM orders WHERE customer = \$1/, 0);
like($p1->[5], qr/id = ANY\(\$1\)/, 'suggestion rewrites the lookup with = ANY');
like($p1->[5], qr/join items to the parent query/, 'suggestion names the join');

# P2: psql, autocommit, back to back, over the rows its parent returned
# (in autocommit, that the parent returned the rows the loop runs over is
# what tells a loop from a hot endpoint's requests back to back)
psql_script("SELECT id FROM orders WHERE customer = 2 ORDER BY id LIMIT 12;\n"
	  . $twelve->("SELECT price FROM items WHERE id = %d;\n"));
expect_flag('psql autocommit loop', 'SELECT price FROM items WHERE id = $1',
	'select_loop', qr/^SELECT id FROM orders WHERE customer = \$1 ORDER BY id LIMIT/, 0);

# P3: PREPARE / EXECUTE
psql_script("PREPARE getstock(int) AS SELECT stock FROM items WHERE id = \$1;\n"
	  . "SELECT id FROM orders WHERE customer = 3 ORDER BY id DESC LIMIT 12;\n"
	  . $twelve->("EXECUTE getstock(%d);\n"));
expect_flag('PREPARE/EXECUTE loop', '%SELECT stock FROM items WHERE id = $1',
	'select_loop', qr/^SELECT id FROM orders WHERE customer = \$1 ORDER BY id DESC/, 0);

# P4: a loop inside PL/pgSQL: nested, driven by the calling statement
$node->safe_psql($db, 'SELECT order_names(3)');
expect_flag('PL/pgSQL select loop', 'SELECT name %FROM items WHERE id = r.id',
	'select_loop', qr/order_names/, 1);

# P5: row-by-row INSERT from the client
psql_script("BEGIN;\nSELECT id FROM orders WHERE id = 5;\n"
	  . $twelve->("INSERT INTO audit (msg) VALUES ('row %d');\n") . "COMMIT;\n");
my $p5 = expect_flag('client INSERT loop', 'INSERT INTO audit (msg) VALUES ($1)',
	'row_by_row_dml', qr/^SELECT id FROM orders WHERE id = \$1/, 0);
like($p5->[5], qr/multi-row INSERT .* COPY/, 'DML suggestion: multi-row INSERT or COPY');

# P6: row-by-row UPDATE inside a DO block
$node->safe_psql($db,
	'DO $$ BEGIN FOR i IN 1..15 LOOP UPDATE items SET stock = stock - 1 WHERE id = i; END LOOP; END $$');
my $p6 = expect_flag('PL/pgSQL UPDATE loop', 'UPDATE items SET stock = stock - 1 WHERE id = i',
	'row_by_row_dml', undef, 1);
like($p6->[5], qr/UPDATE .* FROM \(VALUES/, 'DML suggestion: UPDATE ... FROM (VALUES ...)');

# P7: pgbench, simple protocol, 8 concurrent sessions, explicit transactions
my $order_page = "\\set o random(1, 2000)\n" . join('', map { "\\set p$_ random(1, 2000)\n" } 1 .. 12)
  . "BEGIN;\nSELECT customer, id FROM orders WHERE id = :o;\n"
  . join('', map { "SELECT name, price FROM items WHERE id = :p$_;\n" } 1 .. 12) . "COMMIT;\n";
pgbench($order_page, '-c', '8', '-j', '2', '-t', '20', '-M', 'simple');
my $p7 = expect_flag('pgbench 8 sessions', 'SELECT name, price FROM items WHERE id = $1',
	'select_loop', qr/^SELECT customer, id FROM orders/, 0);
is($p7->[3], 160, 'every burst of every session counted (8 x 20)');
is($p7->[4], 12, 'max repeats per burst');

# P8: pgbench, extended protocol, autocommit
my $ext_page = "\\set c random(1, 49)\n" . join('', map { "\\set p$_ random(1, 2000)\n" } 1 .. 12)
  . "SELECT id, customer FROM orders WHERE customer = :c LIMIT 12;\n"
  . join('', map { "SELECT name, stock FROM items WHERE id = :p$_;\n" } 1 .. 12);
pgbench($ext_page, '-c', '2', '-t', '10', '-M', 'extended');
my $p8 = expect_flag('pgbench extended protocol', 'SELECT name, stock FROM items WHERE id = $1',
	'select_loop', qr/^SELECT id, customer FROM orders/, 0);
is($p8->[3], 20, 'one burst per script run (2 x 10)');

# P9, P10: the libpq client, prepared statements and unnamed statements
client('prepared', 15);
expect_flag('libpq prepared statements', 'SELECT name FROM client_items WHERE id = $1',
	'select_loop', qr/client_orders/, 0);
client('params', 10);    # the parent's 10 rows, one lookup each
expect_flag('libpq PQexecParams autocommit', 'SELECT price FROM client_items WHERE id = $1',
	'select_loop', qr/client_orders/, 0);

# N3 then P11: a slow autocommit loop (pauses longer than nplus1_max_gap_ms)
# is not one unit of work ... unless the application says it is
my $slow_loop = sub {
	my ($shape) = @_;
	"SELECT count(*) FROM orders WHERE customer = 9;\n"
	  . join('', map { "$shape $_;\n\\! sleep 0.15\n" } 1 .. 12);
};
psql_script($slow_loop->('SELECT id FROM items WHERE stock >= 0 AND id ='));
expect_clean('slow autocommit loop without request_id',
	'SELECT id FROM items WHERE stock >= $1 AND id = $2');
psql_script("SET smart_dairy_perf.request_id = 'req-42';\n"
	  . $slow_loop->('SELECT name FROM items WHERE stock >= 0 AND id ='));
expect_flag('slow loop with request_id', 'SELECT name FROM items WHERE stock >= $1 AND id = $2',
	'select_loop', qr/^SELECT count\(\*\) FROM orders/, 0);

# N1, N2: hot endpoints, each request its own transaction
client('hot', 40);
expect_clean('libpq hot endpoint', 'SELECT stock FROM client_items WHERE id = $1');
pgbench("\\set p random(1, 2000)\nBEGIN;\nSELECT name FROM items WHERE id = :p AND price > 0;\nCOMMIT;\n",
	'-c', '4', '-t', '50');
expect_clean('pgbench hot endpoint', 'SELECT name FROM items WHERE id = $1 AND price > $2');

# N7: a connection that does nothing but one lookup, back to back (pgbench -S)
pgbench("\\set p random(1, 2000)\nSELECT price FROM items WHERE id = :p AND stock > -1;\n",
	'-c', '2', '-t', '100');
expect_clean('pgbench -S style single-statement loop',
	'SELECT price FROM items WHERE id = $1 AND stock > $2');

# N8: a hot endpoint of three statements per request, in autocommit, its
# requests back to back with now and then another endpoint's (the main
# job's storefront pool): A B C A B C ... after a one-row lookup is no loop
{
	my $dir = $node->basedir;
	open my $fh, '>', "$dir/browse3.sql" or die $!;
	print $fh "\\set u random(1, 2000)\n\\set p random(1, 2000)\n"
	  . "SELECT id, customer FROM orders WHERE id = :u AND customer >= 0;\n"
	  . "SELECT id, name, stock FROM items WHERE id = :p;\n"
	  . "SELECT count(*) FROM audit WHERE id = :u;\n";
	close $fh;
	open $fh, '>', "$dir/other.sql" or die $!;
	print $fh "\\set o random(1, 2000)\nSELECT customer FROM orders WHERE id = :o AND id > 0;\n";
	close $fh;
	$node->command_ok([ 'pgbench', '-n', '-f', "$dir/browse3.sql\@20", '-f', "$dir/other.sql\@3",
		'-c', '2', '-t', '300', '-h', $node->host, '-p', $node->port, $db ],
		'pgbench hot endpoint of three statements, autocommit');
	expect_clean('hot three-statement endpoint back to back, autocommit',
		'SELECT id, name, stock FROM items WHERE id = $1');
}

# N4: the batched forms run once
psql_script("BEGIN;\nSELECT id FROM orders WHERE customer = 4;\n"
	  . "SELECT name FROM items WHERE id = ANY('{1,2,3,4,5,6,7,8,9,10,11,12}'::int[]);\n"
	  . "SELECT o.id, i.name FROM orders o JOIN items i ON i.id = o.id WHERE o.customer = 4;\nCOMMIT;\n");
expect_clean('batched = ANY', 'SELECT name FROM items WHERE id = ANY($1%');
expect_clean('join', 'SELECT o.id, i.name FROM orders o JOIN items i%');

# P13: two statements per row, alternating (A B A B ...): one loop, both
# statements flagged with the same parent and the same loop (issue 17)
psql_script("BEGIN;\nSELECT id FROM orders WHERE customer = 11 LIMIT 12;\n" . join('', map {
	"SELECT price, name FROM items WHERE id = $_;\nSELECT count(*) FROM audit WHERE id = $_;\n" } 1 .. 12)
	  . "COMMIT;\n");
expect_flag('two statements per row, first', 'SELECT price, name FROM items WHERE id = $1',
	'select_loop', qr/^SELECT id FROM orders WHERE customer = \$1 LIMIT/, 0);
expect_flag('two statements per row, second', 'SELECT count(*) FROM audit WHERE id = $1',
	'select_loop', qr/^SELECT id FROM orders WHERE customer = \$1 LIMIT/, 0);
is($node->safe_psql($db, q{SELECT count(DISTINCT loop_id) || ' ' || min(cardinality(loop_queryids))
	FROM sdp.n_plus_one WHERE query IN ('SELECT price, name FROM items WHERE id = $1',
	                                    'SELECT count(*) FROM audit WHERE id = $1')}),
	'1 2', 'both in one loop of two shapes');

# N5: the same statement with different statements between: no loop
psql_script("BEGIN;\n" . join('', map {
	"SELECT price, stock FROM items WHERE id = $_;\nSELECT count(*) FROM audit WHERE id > $_ AND id < " . (100 + $_) . " AND msg <> '" . ('x' x $_) . "' AND " . join(' AND ', ('true') x $_) . ";\n" } 1 .. 12)
	  . "COMMIT;\n");
expect_clean('interleaved with other statements each time', 'SELECT price, stock FROM items WHERE id = $1');

# N6, P12: thresholds
psql_script("BEGIN;\nSELECT id FROM orders WHERE id = 6;\n"
	  . join('', map { "SELECT stock, price FROM items WHERE id = $_;\n" } 1 .. 9) . "COMMIT;\n");
expect_clean('9 repeats below nplus1_min_repeats = 10', 'SELECT stock, price FROM items WHERE id = $1');
psql_script("SET smart_dairy_perf.nplus1_min_repeats = 5;\nBEGIN;\nSELECT id FROM orders WHERE id = 7;\n"
	  . join('', map { "SELECT stock, name FROM items WHERE id = $_;\n" } 1 .. 6) . "COMMIT;\n");
expect_flag('6 repeats with nplus1_min_repeats = 5', 'SELECT stock, name FROM items WHERE id = $1',
	'select_loop', qr/^SELECT id FROM orders WHERE id/, 0);

my $precision = $tp / (($tp + $fp) || 1);
my $recall = $tp / (($tp + $fn) || 1);
diag(sprintf('N+1 scenarios: %d true positives, %d false negatives, %d false positives, '
	  . '%d true negatives; precision %.2f, recall %.2f', $tp, $fn, $fp, $tn, $precision, $recall));
is($precision, 1, 'precision 1.0 over the scenario set');
is($recall, 1, 'recall 1.0 over the scenario set');

like(slurp_file($node->logfile), qr/N\+1 pattern: query -?\d+ repeated 10 times after its parent query/,
	'nplus1_log writes a LOG line for a new pattern');
my $log_lines = () = slurp_file($node->logfile) =~ /N\+1 pattern: .*SELECT name, price/g;
cmp_ok($log_lines, '<=', 1, 'once per pattern, not per burst');

# patterns survive a restart; reset clears them
my $count = $node->safe_psql($db, 'SELECT count(*) FROM sdp.n_plus_one');
$node->restart;
is($node->safe_psql($db, 'SELECT count(*) FROM sdp.n_plus_one'), $count,
	"all $count patterns survive a clean restart");
is($node->safe_psql($db, "SELECT occurrences FROM sdp.n_plus_one WHERE query LIKE 'SELECT name, price FROM items%'"),
	160, 'with their counters');
$node->safe_psql($db, 'SELECT sdp.reset()');
is($node->safe_psql($db, 'SELECT count(*) FROM sdp.n_plus_one'), 0, 'reset clears the patterns');

$node->stop;
done_testing();
