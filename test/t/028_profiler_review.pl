# A hostile ordinary role against the profiler and N+1 detection (review of
# issues 14 and 17): what it can hide from the DBA, what it can break for
# the DBA, and the files read back at start.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('review');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.track = all
});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE ROLE mallory LOGIN;
CREATE DATABASE maldb OWNER mallory;
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
GRANT SELECT ON t TO mallory;
SELECT sdp.reset();
});

# 1. A schema named sdp in a database without the extension does not make
#    the role's functions the extension's own (left out of N+1 detection).
$node->safe_psql('maldb', q{
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
CREATE SCHEMA sdp;
CREATE FUNCTION sdp.hidden_loop() RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int := 0; x text;
BEGIN
    FOR i IN 1..30 LOOP SELECT v INTO x FROM t WHERE id = i; n := n + 1; END LOOP;
    RETURN n;
END $$;
CREATE FUNCTION public.shown_loop() RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int := 0; x int;
BEGIN
    FOR i IN 1..30 LOOP SELECT id INTO x FROM t WHERE id = i; n := n + 1; END LOOP;
    RETURN n;
END $$;
}, extra_params => [ '-U', 'mallory' ]);
$node->safe_psql('maldb', 'SELECT sdp.hidden_loop(); SELECT public.shown_loop();',
	extra_params => [ '-U', 'mallory' ]);
is($node->safe_psql($db, q{SELECT string_agg(origin || ': ' || query, E'\n' ORDER BY query)
	FROM sdp.n_plus_one WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'maldb')}),
	"application: SELECT id FROM t WHERE id = i\napplication: SELECT v FROM t WHERE id = i",
	"a role's own schema named sdp hides nothing from N+1 detection");

# the extension's own functions are still its own
$node->safe_psql($db, q{SELECT sdp.report('markdown')});
is($node->safe_psql($db, q{SELECT count(*) FROM sdp.n_plus_one
	WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())}),
	'0', "sdp.report()'s loops are still the extension's own");

# 2. A tag value with %00 in a role's loop does not break sdp.n_plus_one
#    (nor sdp.report()) for the DBA who sees every role's tags.
$node->safe_psql($db, "BEGIN;\nSELECT id FROM t WHERE id < 20;\n"
	  . join('', map { "SELECT v FROM t WHERE id = $_ /*controller='%00',action='show%2'*/;\n" } 1 .. 12)
	  . "COMMIT;\n",
	extra_params => [ '-U', 'mallory' ]);
my ($rc, $out, $err) = $node->psql($db, q{SELECT tags FROM sdp.n_plus_one
	WHERE query LIKE 'SELECT v FROM t WHERE id = $1%'});
is($rc, 0, 'sdp.n_plus_one reads a tag with %00') or diag($err);
is($out, '{"action": "show%2", "controller": "%00"}', 'such a value is shown as written');
is($node->safe_psql($db, q{SELECT sdp.query_tags($$a='%41%00b',c=%e2%82%ac,d='x%2Fy'$$)}),
	'{"a": "%41%00b", "c": "%e2%82%ac", "d": "x/y"}',
	'query_tags decodes ASCII percent-escapes other than %00 only');
($rc, $out, $err) = $node->psql($db, q{SELECT length(sdp.report('markdown')) > 0});
is($rc, 0, 'sdp.report() too') or diag($err);

done_testing();
