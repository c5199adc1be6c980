# The statistics file is checked whole before anything is loaded: a CRC-32C
# over the contents, then every value.  A damaged file, whatever the damage,
# gives one LOG line and an empty start, never a failed start and never an
# impossible value in sdp.query_stats or sdp.n_plus_one.
#
#   (i)   random byte flips: rejected (nearly always by the CRC);
#   (ii)  random byte flips with the CRC recomputed: the value checks reject
#         what is impossible, whatever loads is still possible;
#   (iii) truncated files;
#   (iv)  crafted files with a valid CRC and one impossible value each;
#   (v)   the intact file still loads, calls preserved.
#
# SDP_FUZZ_SEED replays a run; SDP_FUZZ_ITERATIONS changes (i) and (ii).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy qw(copy);
use Time::HiRes qw(time);

my $started_at = time;
my $seed = $ENV{SDP_FUZZ_SEED} // int(rand(2**31));
my $iterations = $ENV{SDP_FUZZ_ITERATIONS} // 40;
srand($seed);
note "fuzz seed $seed (SDP_FUZZ_SEED=$seed replays this run)";

my $node = PostgreSQL::Test::Cluster->new('stats_file');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.track = all
log_min_messages = log
});
$node->start;
my $stats_file = $node->data_dir . '/pg_stat/smart_dairy_perf.stat';

# A small workload: several shapes, two applications, a non-ASCII text and
# an N+1 loop, so that every part of the file has something in it.
$node->safe_psql('postgres', q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE cows (id int PRIMARY KEY, herd int, name text);
INSERT INTO cows SELECT g, g % 7, 'cow ' || g FROM generate_series(1, 500) g;
CREATE FUNCTION herd_names(h int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r record; v text; n int := 0;
BEGIN
    FOR r IN SELECT id FROM cows WHERE herd = h ORDER BY id LIMIT 20 LOOP
        SELECT name INTO v FROM cows WHERE id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
SELECT sdp.reset();
});
for my $i (1 .. 5)
{
	$node->safe_psql('postgres', qq{
SET application_name = 'milking_app';
SELECT count(*) AS "kühe_gezählt" FROM cows WHERE herd = $i;
SELECT name FROM cows WHERE id = $i;
SET application_name = 'feed_app';
SELECT herd, count(*) FROM cows GROUP BY herd ORDER BY herd LIMIT $i;
SELECT herd_names($i);
});
}

my $calls_sql = q{SELECT calls FROM sdp.query_stats
  WHERE query LIKE 'SELECT name FROM cows WHERE id = $1%' AND application_name = 'milking_app'};
is($node->safe_psql('postgres', $calls_sql), 5, 'workload counted');
my $patterns_before = $node->safe_psql('postgres', 'SELECT count(*) FROM sdp.n_plus_one');
cmp_ok($patterns_before, '>=', 1, 'workload made an N+1 pattern');
my $workload_sql = q{SELECT count(*), sum(calls) FROM sdp.query_stats WHERE query LIKE '%cows%'};
my $workload_before = $node->safe_psql('postgres', $workload_sql);

$node->stop;
ok(-s $stats_file, 'statistics written at clean shutdown');
my $orig = slurp_file($stats_file, ':raw');
note 'statistics file: ' . length($orig) . ' bytes';

# CRC-32C (Castagnoli), as port/pg_crc32c.h computes it
my @crc_table = map {
	my $c = $_;
	$c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
	$c
} 0 .. 255;

sub crc32c
{
	my ($data) = @_;
	my $crc = 0xFFFFFFFF;
	$crc = $crc_table[($crc ^ $_) & 0xFF] ^ ($crc >> 8) for unpack('C*', $data);
	return $crc ^ 0xFFFFFFFF;
}

# the trailer is the magic and the CRC of every byte before the CRC
sub with_crc
{
	my ($data) = @_;
	my $body = substr($data, 0, length($data) - 4);
	return $body . pack('V', crc32c($body));
}
is(with_crc($orig), $orig, 'the CRC in the file is CRC-32C of its contents');

# Where things are in the file (stats_file.h; entries written by
# profiler_store.c, patterns by nplus1_store.c, then the slow ring and the
# predicates): a 56-byte header, then
# per entry a fixed part (key 32, counters, usage 8, appname 64, encoding 4,
# search_path_len 4, sample_len 4, query_len 4) and the text, the
# search_path and the sample, then per pattern a fixed part (key 48,
# counters 64, loop 56, tags 256, appname 64, kind, encoding, query_len,
# parent_len) and texts.
my ($counters_size, $nentries, $npatterns) =
  (unpack('V', substr($orig, 12, 4)), unpack('q<', substr($orig, 24, 8)),
	unpack('q<', substr($orig, 32, 8)));
my $entry_fixed = 32 + $counters_size + 8 + 64 + 4 + 4 + 4 + 4;
# the variable part of the entry at $pos: text, search_path and sample
sub entry_texts_len
{
	my ($pos) = @_;
	my ($path_len, $sample_len, $qlen) =
	  unpack('l<l<l<', substr($orig, $pos + $entry_fixed - 12, 12));
	return $qlen + ($path_len > 0 ? $path_len : 0) + $sample_len;
}
my $pattern_fixed = 48 + 64 + 56 + 256 + 64 + 4 * 4;
my (@entries, @patterns);    # offsets of the fixed parts
{
	my $pos = 56;
	for (1 .. $nentries)
	{
		push @entries, $pos;
		$pos += $entry_fixed + entry_texts_len($pos);
	}
	for (1 .. $npatterns)
	{
		push @patterns, $pos;
		my ($qlen, $plen) =
		  unpack('l<l<', substr($orig, $pos + $pattern_fixed - 8, 8));
		$pos += $pattern_fixed + $qlen + ($plen > 0 ? $plen : 0);
	}
	# the slow-query ring (slow_queries.c): its count and next seq, then
	# per record a 136-byte fixed part ending in query, plan and JSON
	# lengths, and those texts; the observed predicates (predicate_store.c):
	# their count, then 112 bytes each
	my $nslow = unpack('q<', substr($orig, $pos, 8));
	$pos += 16;
	for (1 .. $nslow)
	{
		my ($qlen, $plen, $jlen) = unpack('l<l<l<', substr($orig, $pos + 120, 12));
		$pos += 136 + $qlen + ($plen > 0 ? $plen : 0) + ($jlen > 0 ? $jlen : 0);
	}
	$pos += 8 + 112 * unpack('q<', substr($orig, $pos, 8));
	is($pos + 8, length($orig), 'the file parses as expected');
}
# the entry of the workload's query with the longest text, for crafting
my ($victim) = sort {
	unpack('l<', substr($orig, $b + $entry_fixed - 4, 4))
	  <=> unpack('l<', substr($orig, $a + $entry_fixed - 4, 4))
} grep { unpack('q<', substr($orig, $_ + 32, 8)) > 0 } @entries;

sub install_file
{
	my ($data) = @_;
	open my $fh, '>:raw', $stats_file or die "open: $!";
	print $fh $data;
	close $fh or die "close: $!";
}

# Nothing impossible is visible: counts, times, order of min/mean/max,
# timestamps and texts (convert_to verifies the encoding, ::text output
# checks the timestamp range).  Returns '' when all is well.
my $sanity_sql = q{
SELECT count(*) FILTER (WHERE NOT (
           calls >= 0 AND rows >= 0
           AND total_exec_time >= 0 AND total_exec_time < 'Infinity'
           AND min_exec_time >= 0 AND max_exec_time < 'Infinity'
           AND min_exec_time <= max_exec_time
           AND mean_exec_time BETWEEN min_exec_time - 1e-6 AND max_exec_time + 1e-6
           AND stddev_exec_time >= 0 AND stddev_exec_time < 'Infinity'
           AND shared_blks_hit >= 0 AND shared_blks_read >= 0
           AND blk_read_time >= 0 AND blk_read_time < 'Infinity'
           AND wal_records >= 0 AND wal_bytes >= 0
           AND coalesce(p50_exec_time <= p99_exec_time, true)
           AND convert_from(convert_to(query, 'UTF8'), 'UTF8') = query
           AND convert_from(convert_to(application_name, 'UTF8'), 'UTF8') = application_name
           AND length(first_seen::text || last_seen::text) > 0))
  FROM sdp.query_stats
UNION ALL
SELECT count(*) FILTER (WHERE NOT (
           occurrences >= 0 AND max_repeats >= 0
           AND total_exec_ms >= 0 AND total_exec_ms < 'Infinity'
           AND kind IN ('select_loop', 'row_by_row_dml')
           AND convert_from(convert_to(query, 'UTF8'), 'UTF8') = query
           AND convert_from(convert_to(coalesce(parent_query, ''), 'UTF8'), 'UTF8')
               = coalesce(parent_query, '')
           AND convert_from(convert_to(application_name, 'UTF8'), 'UTF8') = application_name
           AND length(first_seen::text || last_seen::text) > 0))
  FROM sdp.n_plus_one
UNION ALL
SELECT count(*) FILTER (WHERE NOT (evictions >= 0 AND length(stats_reset::text) > 0))
  FROM sdp.profiler_info};

sub visible_problems
{
	my ($ret, $out, $err) = $node->psql('postgres', $sanity_sql);
	return "query failed: $err" if $ret != 0;
	return "impossible rows: $out" if $out ne "0\n0\n0" && $out ne "0\n0\n0\n";
	return '';
}

# Start on the given file contents; returns the server's verdict on it:
# 'crc', 'value', 'header' (truncated, magic, version), 'loaded', or
# 'failed start' / the problem seen in the views.
my %outcome_re = (
	crc => qr/ignoring saved statistics .*: checksum mismatch/,
	value => qr/ignoring saved statistics .*: impossible value/,
	header => qr/ignoring saved statistics .*: the file (is truncated|is not a|was written by another|is shorter|is longer)/,
	loaded => qr/restored statistics of \d+ queries/);

sub start_on
{
	my ($data) = @_;
	install_file($data);
	my $offset = -s $node->logfile;
	return ('failed start', '') unless $node->start(fail_ok => 1);
	my $problems = visible_problems();
	my $log = substr(slurp_file($node->logfile), $offset);
	$node->stop;
	my @seen = grep { $log =~ $outcome_re{$_} } sort keys %outcome_re;
	return ($problems || (@seen == 1 ? $seen[0] : 'log: ' . join('+', @seen)),
		$log);
}

sub flip_bytes
{
	my ($data, $from, $to) = @_;
	for (1 .. 1 + int(rand(3)))
	{
		my $at = $from + int(rand($to - $from));
		substr($data, $at, 1) =
		  chr(ord(substr($data, $at, 1)) ^ (1 + int(rand(255))));
	}
	return $data;
}

# (i) random byte flips anywhere: all rejected, nearly all by the CRC
my %raw;
for my $i (1 .. $iterations)
{
	my ($outcome) = start_on(flip_bytes($orig, 0, length($orig)));
	$raw{$outcome}++;
}
note 'raw flips: ' . join(', ', map { "$_ $raw{$_}" } sort keys %raw);
is(join(',', grep { !/^(crc|header|value|loaded)$/ } keys %raw), '',
	'raw flips: the server always started and showed nothing impossible');
is($raw{loaded} // 0, 0, 'raw flips: no damaged file was loaded');
cmp_ok($raw{crc} // 0, '>=', 0.8 * $iterations,
	'raw flips: most rejected by the checksum');

# (ii) flips with the CRC recomputed: what the value checks let through
# must still be possible.  Half of them anywhere after the header (mostly
# histogram buckets, by size), half in an entry's key, scalar counters,
# application name, lengths or text.
my %fixed;
for my $i (1 .. $iterations)
{
	my $data;
	if ($i % 2)
	{
		$data = flip_bytes($orig, 56, length($orig) - 8);
	}
	else
	{
		my $e = $entries[ int(rand(@entries)) ];
		my $len = entry_texts_len($e);
		$data = rand() < 0.5
		  ? flip_bytes($orig, $e, $e + 32 + 192)
		  : flip_bytes($orig, $e + 32 + $counters_size, $e + $entry_fixed + $len);
	}
	my ($outcome) = start_on(with_crc($data));
	$fixed{$outcome}++;
}
note 'flips with a valid CRC: ' . join(', ', map { "$_ $fixed{$_}" } sort keys %fixed);
is(join(',', grep { !/^(header|value|loaded)$/ } keys %fixed), '',
	'flips with a valid CRC: the server always started and showed nothing impossible');
cmp_ok($fixed{value} // 0, '>=', 1, 'flips with a valid CRC: some rejected by the value checks');

# (iii) truncated files
for my $len (0, 7, 55, 56, 64, int(length($orig) / 2), length($orig) - 1)
{
	my ($outcome, $log) = start_on(substr($orig, 0, $len));
	if ($len == 0 || $len < 56)
	{
		like($log, qr/ignoring saved statistics .*: the file is truncated/,
			"file cut to $len bytes: truncation logged");
	}
	else
	{
		is($outcome, 'header', "file cut to $len bytes: rejected");
	}
}

# (iv) one impossible value each, CRC valid: the value checks themselves
sub put
{
	my ($data, $at, $bytes) = @_;
	substr($data, $at, length($bytes)) = $bytes;
	return with_crc($data);
}
my $e = $victim;
my $c = $e + 32;    # the entry's counters
my $qlen = unpack('l<', substr($orig, $e + $entry_fixed - 4, 4));
my $text_at = $e + $entry_fixed;
my $p = $patterns[0];
my %crafted = (
	'negative calls' => put($orig, $c, pack('q<', -5)),
	'negative rows' => put($orig, $c + 8, pack('q<', -1)),
	'NaN total time' => put($orig, $c + 16, pack('d<', 'NaN' + 0)),
	'infinite max time' => put($orig, $c + 32, pack('d<', 9**9**9)),
	'min above max' => put($orig, $c + 24,
		pack('d<', unpack('d<', substr($orig, $c + 32, 8)) + 1000)),
	'mean above max' => put($orig, $c + 40,
		pack('d<', unpack('d<', substr($orig, $c + 32, 8)) * 2 + 1)),
	'histogram not adding up' => put($orig, $c + 192 + 8 * 257,
		pack('Q<', unpack('Q<', substr($orig, $c + 192 + 8 * 257, 8)) + 1)),
	'negative usage' => put($orig, $c + $counters_size, pack('d<', -1)),
	'timestamp out of range' => put($orig, $c + 184, pack('q<', -2**62)),
	'invalid UTF-8 in a text' => put($orig, $text_at, "\xC3\x28"),
	'NUL in a text' => put($orig, $text_at + 1, "\0"),
	'text length beyond the file' => put($orig, $e + $entry_fixed - 4,
		pack('l<', $qlen + 100)),
	'text length out of bounds' => put($orig, $e + $entry_fixed - 4,
		pack('l<', 1 << 24)),
	'negative text length' => put($orig, $e + $entry_fixed - 4, pack('l<', -3)),
	'invalid encoding' => put($orig, $e + $entry_fixed - 16, pack('l<', 99)),
	'search_path length out of bounds' => put($orig, $e + $entry_fixed - 12,
		pack('l<', 4096)),
	'sample length out of bounds' => put($orig, $e + $entry_fixed - 8,
		pack('l<', 1 << 24)),
	'invalid UTF-8 in an application name' =>
	  put($orig, $c + $counters_size + 8, "\xFF\xFE"),
	'application name without NUL' =>
	  put($orig, $c + $counters_size + 8, 'x' x 64),
	'bool of 2 in a key' => put($orig, $e + 24, "\x02"),
	'N+1 pattern: negative occurrences' => put($orig, $p + 48, pack('q<', -1)),
	'N+1 pattern: max repeats above total' => put($orig, $p + 64,
		pack('q<', unpack('q<', substr($orig, $p + 56, 8)) + 1)),
	'N+1 pattern: NaN time' => put($orig, $p + 72, pack('d<', 'NaN' + 0)),
	'N+1 pattern: parent rows known more often than seen' => put($orig, $p + 88,
		pack('q<', unpack('q<', substr($orig, $p + 48, 8)) + 1)),
	'N+1 pattern: loop position beyond its shapes' => put($orig, $p + 112 + 4, pack('l<', 9)),
	'N+1 pattern: tags without their end' => put($orig, $p + 168, 'x' x 256),
	'N+1 pattern: unknown kind' => put($orig, $p + 488, pack('l<', ord('x'))),
	'N+1 pattern: invalid UTF-8' => put($orig, $p + $pattern_fixed, "\xE2\x82"),
	'N+1 pattern count beyond the file' => put($orig, 32, pack('q<', $npatterns + 1)),
	'negative entry count' => put($orig, 24, pack('q<', -1)));
for my $what (sort keys %crafted)
{
	my ($outcome, $log) = start_on($crafted{$what});
	ok($outcome eq 'value' || ($what =~ /beyond the file/ && $outcome eq 'header')
		  || ($what eq 'negative entry count' && $log =~ /impossible value in the header/),
		"crafted file, $what: rejected ($outcome)");
	if ($what eq 'negative calls')
	{
		like($log, qr/impossible value in query entry \d+: negative count/,
			'the LOG line names the reason');
	}
}

# an older format is skipped with its own LOG line
{
	my $old = $orig;
	substr($old, 4, 4) = pack('V', 1);
	my ($outcome, $log) = start_on($old);
	like($log, qr/written by another version of smart_dairy_perf/,
		'version 1 file skipped with a LOG line');
}

# (v) the intact file still loads, everything preserved
{
	install_file($orig);
	my $offset = -s $node->logfile;
	$node->start;
	like(substr(slurp_file($node->logfile), $offset),
		qr/restored statistics of $nentries queries and $npatterns N\+1 patterns/,
		'intact file loaded whole');
	is($node->safe_psql('postgres', $calls_sql), 5, 'intact file: calls preserved');
	is($node->safe_psql('postgres', $workload_sql),
		$workload_before, 'intact file: every entry of the workload back');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM sdp.n_plus_one'),
		$patterns_before, 'intact file: every N+1 pattern back');
	is(visible_problems(), '', 'intact file: nothing impossible');
	$node->stop;
}

unlike(slurp_file($node->logfile), qr/PANIC|terminated by signal|segmentation fault/i,
	'no crash in the whole run');
note sprintf('run took %.1f s', time - $started_at);
done_testing();
