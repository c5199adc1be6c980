# What the profiler learned survives a clean restart: besides the query
# statistics (001, 013), the slow-query ring with its plans (text and
# structured) and the observed predicates the index advisor reads.  A crash
# (immediate stop) discards them like the statistics; a damaged file — bytes
# flipped, truncated, from another version, or a valid CRC over an
# impossible slow record or predicate — is skipped with one LOG line, and
# the server starts with all of it empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restart_state');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.slow_query_ms = 0
smart_dairy_perf.plan_capture = slow_analyze
smart_dairy_perf.plan_sample_rate = 1
smart_dairy_perf.predicate_sample_rate = 1
smart_dairy_perf.max_slow_queries = 50
log_min_messages = log
});
$node->start;
my $stats_file = $node->data_dir . '/pg_stat/smart_dairy_perf.stat';

$node->safe_psql('postgres', q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE readings (id int, farm int, litres numeric, note text);
INSERT INTO readings SELECT g, g % 40, g % 17, 'r' || g FROM generate_series(1, 20000) g;
ANALYZE readings;
SELECT sdp.reset();
});
# more statements than the ring holds, so that it has wrapped
for my $farm (1 .. 30)
{
	$node->safe_psql('postgres', qq{
SELECT count(*) FROM readings WHERE farm = $farm AND litres > 3;
SELECT id FROM readings WHERE note = 'r$farm' ORDER BY id LIMIT 1;
});
}

my $slow_sql = q{
SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', seq, queryid, rows, duration_ms,
                         plan_analyzed, md5(query), md5(coalesce(plan, ''))), E'\n' ORDER BY seq)
  FROM sdp.slow_queries(true)};
my $json_sql = q{
SELECT string_agg(format('%s|%s|%s', seq, plan_state, md5(coalesce(plan::text, ''))), E'\n' ORDER BY seq)
  FROM sdp._slow_query_plans()};
my $pred_sql = q{
SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', table_name, kind, predicate, samples,
                         rows_kept, rows_removed, queryid), E'\n' ORDER BY predicate, kind)
  FROM sdp.observed_predicates};
my $captured_sql = 'SELECT slow_queries_captured FROM sdp.profiler_info';

# reading must not add to what is read: no capture, no sampling
my $quiet = 'SET smart_dairy_perf.slow_query_ms = -1; SET smart_dairy_perf.predicate_sample_rate = 0;';
sub read_quietly
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', "$quiet $sql");
}

sub state_now
{
	return {
		slow => read_quietly($slow_sql),
		json => read_quietly($json_sql),
		predicates => read_quietly($pred_sql),
		captured => read_quietly($captured_sql),
	};
}

my $before = state_now();
my @slow = split /\n/, $before->{slow};
is(scalar @slow, 50, 'the ring is full (it wrapped)');
like($before->{json}, qr/\|captured\|/, 'structured plans were captured');
like($before->{predicates}, qr/^readings\|filter\|farm = \?/m, 'predicates were observed');
cmp_ok($before->{captured}, '>', 50, 'more executions captured than the ring holds');

# --- a clean restart keeps all of it ---------------------------------------
my $log_offset = -s $node->logfile;
$node->restart;
my $log = substr(slurp_file($node->logfile), $log_offset);
like($log, qr/restored statistics of \d+ queries and \d+ N\+1 patterns, 50 slow queries, \d+ observed predicates/,
	'the restore is logged with the slow queries and predicates');
my $after = state_now();
is($after->{slow}, $before->{slow}, 'slow queries (seq, id, rows, time, text, plan) survive a clean restart');
is($after->{json}, $before->{json}, 'their structured plans survive');
is($after->{predicates}, $before->{predicates}, 'observed predicates survive');
is($after->{captured}, $before->{captured}, 'the count of captured executions survives');

# new captures continue the sequence
$node->safe_psql('postgres', 'SELECT 1 AS after_restart');
my $newest = read_quietly(
	q{SELECT seq FROM sdp.slow_queries(true) WHERE query LIKE '%after_restart%'});
is($newest, $before->{captured} + 1, 'the ring goes on from where it was');

# --- a crash discards them --------------------------------------------------
$node->stop('immediate');
ok(!-e $stats_file, 'an immediate stop writes no statistics file');
$node->start;
is(read_quietly('SELECT count(*) FROM sdp.slow_queries(true)'), 0,
	'after a crash the slow ring is empty');
is(read_quietly('SELECT count(*) FROM sdp.observed_predicates'), 0,
	'after a crash no predicates');
is(read_quietly(q{SELECT count(*) FROM sdp.query_stats WHERE query LIKE '%readings%'}), 0,
	'after a crash no query statistics either');

# --- damaged files ----------------------------------------------------------
# refill, stop cleanly, keep the file
for my $farm (1 .. 5)
{
	$node->safe_psql('postgres',
		"SELECT count(*) FROM readings WHERE farm = $farm AND litres > 3");
}
$node->stop;
ok(-s $stats_file, 'statistics file written at clean shutdown');
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

# Find the slow ring's and the predicates' parts (layout in 013).
my ($counters_size, $nentries, $npatterns) =
  (unpack('V', substr($orig, 12, 4)), unpack('q<', substr($orig, 24, 8)),
	unpack('q<', substr($orig, 32, 8)));
my $pos = 56;
# an entry: fixed part ending in search_path_len, sample_len, query_len;
# then the text, the search_path (when recorded) and the sample
my $entry_fixed = 32 + $counters_size + 8 + 64 + 4 + 4 + 4 + 4;
for (1 .. $nentries)
{
	my ($path_len, $sample_len, $qlen) =
	  unpack('l<l<l<', substr($orig, $pos + $entry_fixed - 12, 12));
	$pos += $entry_fixed + $qlen + ($path_len > 0 ? $path_len : 0) + $sample_len;
}
# a pattern: fixed part ending in query_len, parent_len; then the texts
my $pattern_fixed = 48 + 64 + 56 + 256 + 64 + 4 * 4;
for (1 .. $npatterns)
{
	my ($qlen, $plen) = unpack('l<l<', substr($orig, $pos + $pattern_fixed - 8, 8));
	$pos += $pattern_fixed + $qlen + ($plen > 0 ? $plen : 0);
}
my $slow_at = $pos;
my $nslow = unpack('q<', substr($orig, $pos, 8));
my @slow_records;
my $first_json;
$pos += 16;
for (1 .. $nslow)
{
	push @slow_records, $pos;
	my ($qlen, $plen, $jlen) = unpack('l<l<l<', substr($orig, $pos + 120, 12));
	$first_json //= $pos + 136 + $qlen + ($plen > 0 ? $plen : 0) if $jlen > 0;
	$pos += 136 + $qlen + ($plen > 0 ? $plen : 0) + ($jlen > 0 ? $jlen : 0);
}
my $pred_at = $pos;
my $npred = unpack('q<', substr($orig, $pos, 8));
is($pos + 8 + 112 * $npred + 8, length($orig), 'the file parses as expected');
cmp_ok($nslow, '>=', 5, 'the file holds slow queries');
cmp_ok($npred, '>=', 1, 'the file holds predicates');
ok(defined $first_json, 'and a structured plan');

sub start_on
{
	my ($data, $name, $expect) = @_;
	open my $fh, '>:raw', $stats_file or die $!;
	print $fh $data;
	close $fh;
	my $offset = -s $node->logfile;
	$node->start;
	my $log = substr(slurp_file($node->logfile), $offset);
	like($log, $expect, "$name: skipped with a LOG line");
	is(read_quietly(
		'SELECT (SELECT count(*) FROM sdp.slow_queries(true)) + (SELECT count(*) FROM sdp.observed_predicates)'
		  . " + (SELECT count(*) FROM sdp.query_stats WHERE query NOT LIKE 'SET smart_dairy_perf.%')"),
		0, "$name: the server starts empty");
	$node->stop('immediate');
}

my $flipped = $orig;
substr($flipped, $slow_records[0] + 140, 1) ^= "\x01";
start_on($flipped, 'a byte flipped in a slow query',
	qr/ignoring saved statistics .*: checksum mismatch/);

start_on(substr($orig, 0, $pred_at + 20), 'truncated in the predicates',
	qr/ignoring saved statistics .*: the file is truncated/);

my $other = $orig;
substr($other, 4, 4) = pack('V', 2);
start_on($other, 'written by another version',
	qr/ignoring saved statistics .*: the file was written by another version/);

# valid CRC, impossible values
my $nan = $orig;
substr($nan, $slow_records[0] + 16, 8) = pack('d<', 9**9**9 / 9**9**9);
start_on(with_crc($nan), 'a slow query lasting NaN ms',
	qr/ignoring saved statistics .*: impossible value in slow query 1: negative or not a number/);

my $order = $orig;
substr($order, $slow_records[1], 8) = substr($orig, $slow_records[0], 8);
start_on(with_crc($order), 'two slow queries with one seq',
	qr/ignoring saved statistics .*: impossible value in slow query 2: sequence numbers out of order/);

my $badjson = $orig;
substr($badjson, $first_json, 1) = 'x';
start_on(with_crc($badjson), 'a structured plan that is not JSON',
	qr/ignoring saved statistics .*: impossible value in slow query \d+: plan not valid JSON/);

my $kind = $orig;
substr($kind, $pred_at + 8 + 8, 1) = 'x';
start_on(with_crc($kind), 'a predicate of no known kind',
	qr/ignoring saved statistics .*: impossible value in observed predicate 1: malformed key/);

my $rows = $orig;
substr($rows, $pred_at + 8 + 48 + 16, 8) = pack('d<', -5);
start_on(with_crc($rows), 'a predicate keeping -5 rows',
	qr/ignoring saved statistics .*: impossible value in observed predicate 1: negative or not a number/);

# the intact file still loads
open my $fh, '>:raw', $stats_file or die $!;
print $fh $orig;
close $fh;
$node->start;
is(read_quietly('SELECT count(*) FROM sdp.slow_queries(true)'), $nslow,
	'the intact file loads every slow query');

# a smaller ring after the restart keeps the newest records (nothing new
# is captured from here on)
$node->append_conf('postgresql.conf', qq{
smart_dairy_perf.max_slow_queries = 3
smart_dairy_perf.slow_query_ms = -1
});
$node->reload;
my $seqs_before = $node->safe_psql('postgres',
	q{SELECT string_agg(seq::text, ',' ORDER BY seq DESC) FROM (SELECT seq FROM sdp.slow_queries(true) ORDER BY seq DESC LIMIT 3) s});
$node->restart;
is($node->safe_psql('postgres',
	q{SELECT string_agg(seq::text, ',' ORDER BY seq DESC) FROM sdp.slow_queries(true)}),
	$seqs_before, 'a smaller ring keeps the newest records');
$node->stop;
done_testing();
