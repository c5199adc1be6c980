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
smart_dairy_perf.slow_query_ms = 250
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
# ... nor a non-ASCII character beside an escape in a SQL_ASCII database
$node->safe_psql($db, q{CREATE DATABASE ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'});
$node->safe_psql('ascii', 'CREATE EXTENSION smart_dairy_perf; CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, g::text FROM generate_series(1, 30) g; GRANT SELECT ON t TO mallory');
$node->safe_psql('ascii', "BEGIN;\nSELECT id FROM t WHERE id < 20;\n"
	  . join('', map { "SELECT v FROM t WHERE id = $_ /*controller='caf\xc3\xa9%41'*/;\n" } 1 .. 12)
	  . "COMMIT;\n",
	extra_params => [ '-U', 'mallory' ]);
($rc, $out, $err) = $node->psql('ascii', q{SELECT tags FROM sdp.n_plus_one
	WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())});
is($rc, 0, 'sdp.n_plus_one reads such a tag in a SQL_ASCII database') or diag($err);
is($out, "{\"controller\": \"caf\xc3\xa9%41\"}", 'and shows it as written');
is($node->safe_psql($db, q{SELECT sdp.query_tags('a=''caf' || chr(233) || '%41''')}), "{\"a\": \"caf\xc3\xa9%41\"}",
	'a value with non-ASCII characters is kept as written');
($rc, $out, $err) = $node->psql($db, q{SELECT length(sdp.report('markdown')) > 0});
is($rc, 0, 'sdp.report() too') or diag($err);

# 4. A role without pg_read_all_stats cannot pass its statements off as
#    the extension's in the report (a text naming sdp., application_name
#    smart_dairy_perf): only trusted roles' statements are left out.
$node->safe_psql($db, q{SELECT pg_sleep(0.3) AS "sdp.hidden"; SET application_name = 'smart_dairy_perf';
	SELECT pg_sleep(0.3) AS quiet_one FROM (VALUES (1)) v}, extra_params => [ '-U', 'mallory' ]);
my $report = $node->safe_psql($db, q{SELECT sdp.report('markdown')});
my ($top) = $report =~ /(Top queries by total time.*?)(?=\n#)/s;
my ($slow) = $report =~ /(Slow queries.*?)(?=\n#)/s;
like($top // '', qr/sdp\.hidden/, "the top queries show a role's statement naming sdp.")
  or diag($report);
like($top // '', qr/quiet_one/, 'and one sent as application smart_dairy_perf');
like($slow // '', qr/sdp\.hidden.*\n(?:.*\n)*.*quiet_one|quiet_one.*\n(?:.*\n)*.*sdp\.hidden/,
	'so do the slow queries');
unlike($top // '', qr/sdp\.query_totals|sdp\.report/, "the report's own statements are still left out");

# 3. The saved file's new parts (N+1 patterns, slow ring, predicates) under
#    random damage behind a valid CRC: each start either loads the file or
#    skips it whole with a LOG line; it never fails, crashes or loads half.
my $fz = PostgreSQL::Test::Cluster->new('fuzz');
$fz->init;
$fz->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.slow_query_ms = 0
smart_dairy_perf.plan_capture = slow_analyze
smart_dairy_perf.plan_sample_rate = 1
smart_dairy_perf.predicate_sample_rate = 1
smart_dairy_perf.max_slow_queries = 20
smart_dairy_perf.track = all
});
$fz->start;
my $stats_file = $fz->data_dir . '/pg_stat/smart_dairy_perf.stat';
$fz->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE r (id int PRIMARY KEY, farm int, note text);
INSERT INTO r SELECT g, g % 40, 'n' || g FROM generate_series(1, 2000) g;
ANALYZE r;
});
$fz->safe_psql($db, "BEGIN;\nSELECT id FROM r WHERE farm = 3 LIMIT 12;\n"
	  . join('', map { "SELECT note FROM r WHERE id = $_ /*controller='orders',action='sh\xc3\xa9'*/;\n" } 1 .. 12)
	  . "COMMIT;\n");
$fz->safe_psql($db, "SELECT count(*) FROM r WHERE farm = $_ AND note > 'n'") for 1 .. 5;
$fz->stop;
my $orig = slurp_file($stats_file, ':raw');

my @crc_table = map {
	my $c = $_;
	$c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
	$c
} 0 .. 255;
sub with_crc
{
	my ($data) = @_;
	my $body = substr($data, 0, length($data) - 4);
	my $crc = 0xFFFFFFFF;
	$crc = $crc_table[($crc ^ $_) & 0xFF] ^ ($crc >> 8) for unpack('C*', $body);
	return $body . pack('V', $crc ^ 0xFFFFFFFF);
}

# where the query entries end (layout in 013 and 021)
my ($counters_size, $nentries) =
  (unpack('V', substr($orig, 12, 4)), unpack('q<', substr($orig, 24, 8)));
my $pos = 56;
my $entry_fixed = 32 + $counters_size + 8 + 64 + 4 + 4 + 4 + 4;
for (1 .. $nentries)
{
	my ($path_len, $sample_len, $qlen) =
	  unpack('l<l<l<', substr($orig, $pos + $entry_fixed - 12, 12));
	$pos += $entry_fixed + $qlen + ($path_len > 0 ? $path_len : 0) + $sample_len;
}
my $new_parts = $pos;
cmp_ok(length($orig) - 8 - $new_parts, '>', 1000, 'the file has patterns, slow queries and predicates');

my @hostile = (pack('l<', -1), pack('l<', 0x7fffffff), pack('l<', -0x80000000),
	pack('q<', -1), pack('d<', 9**9**9), pack('d<', 9**9**9 / 9**9**9), pack('d<', -1),
	"\xff", "\x00", "\xc3", "%");
srand(28);
my ($skipped, $loaded, $bad) = (0, 0, 0);
for my $round (1 .. 40)
{
	my $data = $orig;
	my $what;
	if ($round % 8 == 0)
	{
		# cut short, with a trailer that matches
		my $cut = $new_parts + int(rand(length($orig) - 8 - $new_parts));
		$data = substr($orig, 0, $cut) . pack('V', 0x53445031) . "\0\0\0\0";
		$what = "cut at $cut";
	}
	else
	{
		my $at = $new_parts + 4 * int(rand((length($orig) - 16 - $new_parts) / 4));
		my $v = $hostile[ int(rand(@hostile)) ];
		substr($data, $at, length($v)) = $v;
		$what = sprintf('%s at %d', unpack('H*', $v), $at);
	}
	open my $fh, '>:raw', $stats_file or die $!;
	print $fh with_crc($data);
	close $fh;
	my $offset = -s $fz->logfile;
	if (!$fz->start(fail_ok => 1))
	{
		$bad++;
		diag("round $round ($what): the server did not start");
		next;
	}
	my $log = substr(slurp_file($fz->logfile), $offset);
	my ($rc, $out, $err) = $fz->psql($db, q{SET smart_dairy_perf.slow_query_ms = -1;
		SELECT (SELECT count(*) FROM sdp.slow_queries(true) s WHERE length(s.query || coalesce(s.plan, '')) >= 0)
		     + (SELECT count(*) FROM sdp._slow_query_plans() p WHERE p.plan IS NULL OR p.plan IS NOT NULL)
		     + (SELECT count(*) FROM sdp.observed_predicates o WHERE length(o.predicate) >= 0)
		     + (SELECT count(*) FROM sdp.n_plus_one n WHERE n.tags IS NULL OR n.tags IS NOT NULL)});
	if ($rc != 0)
	{
		$bad++;
		diag("round $round ($what): reading failed: $err");
	}
	elsif ($log =~ /ignoring saved statistics/)
	{
		$skipped++;
		if ($out != 0)
		{
			$bad++;
			diag("round $round ($what): skipped, yet $out rows loaded");
		}
	}
	elsif ($log =~ /restored statistics/)
	{
		$loaded++;
	}
	else
	{
		$bad++;
		diag("round $round ($what): neither restored nor skipped:\n$log");
	}
	$fz->stop('immediate');
}
is($bad, 0, "40 damaged files: each loaded ($loaded) or skipped whole ($skipped)");
cmp_ok($skipped, '>=', 20, 'most damage is caught');

done_testing();
