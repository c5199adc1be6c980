# Health views under real contention: a session idle in a transaction that
# holds a lock, one waiting for it and one waiting behind that.  The lock
# tree puts them under the idle session, long_running_queries and
# connections show the idle transaction and the blocked statements.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('health');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'smart_dairy_perf'});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE products (id int PRIMARY KEY, stock int);
INSERT INTO products SELECT g, 10 FROM generate_series(1, 100) g;
});

my $holder = $node->background_psql($db);
$holder->query_safe(q{SET application_name = 'holder'});
$holder->query_safe('BEGIN');
$holder->query_safe('UPDATE products SET stock = stock - 1 WHERE id = 1');
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');

my $waiter = $node->background_psql($db);
$waiter->query_safe(q{SET application_name = 'waiter'});
my $waiter_pid = $waiter->query_safe('SELECT pg_backend_pid()');
$waiter->query_until(qr/started/, q{\echo started
UPDATE products SET stock = stock - 2 WHERE id = 1;
});
my $ddl = $node->background_psql($db);
$ddl->query_safe(q{SET application_name = 'ddl'});
my $ddl_pid = $ddl->query_safe('SELECT pg_backend_pid()');
$ddl->query_until(qr/started/, q{\echo started
ALTER TABLE products ADD COLUMN price numeric;
});

ok($node->poll_query_until($db, q{SELECT count(*) = 1 FROM sdp.lock_tree WHERE depth = 2}),
	'two sessions wait');
my $tree = $node->safe_psql($db, q{SELECT string_agg(application_name || ':' || depth, ',' ORDER BY depth, application_name)
	FROM sdp.lock_tree});
is($tree, 'holder:0,waiter:1,ddl:2',
	'the holder at the root, the update under it, the DDL (queued behind both) under the update');
is($node->safe_psql($db, qq{SELECT count(*) FROM sdp.lock_tree WHERE root_pid = $holder_pid}), 3,
	'the whole tree hangs under the holder');
is($node->safe_psql($db, qq{SELECT state FROM sdp.long_running_queries WHERE pid = $holder_pid}),
	'idle in transaction', 'the holder shows as idle in transaction');
ok($node->poll_query_until($db, qq{SELECT blocked FROM sdp.long_running_queries WHERE pid = $waiter_pid}),
	'the waiter shows as a blocked long-running statement');
is($node->safe_psql($db, q{SELECT sum(connections) FROM sdp.connections WHERE state = 'idle in transaction'}),
	1, 'connections counts the idle transaction');

$holder->query_safe('COMMIT');
ok($node->poll_query_until($db, q{SELECT count(*) = 0 FROM sdp.lock_tree}), 'the tree empties once it commits');
$holder->quit;
$waiter->quit;
$ddl->quit;
is($node->safe_psql($db, 'SELECT stock FROM products WHERE id = 1'), 7, 'both updates went through');

$node->stop;
done_testing();
