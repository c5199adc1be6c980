# sdp.report('html') rendered in headless Chromium (Debian's chromium):
# one self-contained file, no script, that the browser parses into the
# sections, tables and two SVG charts, and screenshots.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $chromium = '/usr/bin/chromium';
plan skip_all => 'chromium is not installed' unless -x $chromium;

my $node = PostgreSQL::Test::Cluster->new('report');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'smart_dairy_perf'
smart_dairy_perf.slow_query_ms = 3
smart_dairy_perf.plan_capture = slow_analyze
smart_dairy_perf.plan_sample_rate = 1
max_parallel_workers_per_gather = 0});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION smart_dairy_perf;
CREATE TABLE orders (id int PRIMARY KEY, user_id int, total numeric);
INSERT INTO orders SELECT g, g % 500, g FROM generate_series(1, 50000) g;
CREATE INDEX orders_total_text ON orders ((total::text));   -- never scanned
ANALYZE orders;
});
$node->safe_psql($db, "SELECT count(*) FROM orders WHERE user_id = $_") for 1 .. 30;
$node->safe_psql($db, "SELECT total FROM orders WHERE id = $_") for 1 .. 30;
$node->safe_psql($db, q{SELECT sdp.snapshot('before')});
$node->safe_psql($db, 'CREATE INDEX ON orders (user_id)');
$node->safe_psql($db, 'SELECT sdp.reset()');
$node->safe_psql($db, "SELECT count(*) FROM orders WHERE user_id = $_") for 1 .. 30;
$node->safe_psql($db, q{SELECT sdp.snapshot('after')});
# latencies four decades apart: the percentile chart goes logarithmic
$node->safe_psql($db, "SELECT total FROM orders WHERE id = $_") for 1 .. 30;
$node->safe_psql($db, 'SELECT sum(o.total) FROM orders o, generate_series(1, 30) g') for 1 .. 3;
# a slow lookup that reads a whole table for a few rows: plan advice
$node->safe_psql($db, q{CREATE TABLE deliveries (farm_id int, liters int);
INSERT INTO deliveries SELECT g % 5000, g FROM generate_series(1, 300000) g; ANALYZE deliveries});
$node->safe_psql($db, 'SELECT sum(liters) FROM deliveries WHERE farm_id = 7');

my $dir = $node->basedir;
my $html = $node->safe_psql($db, q{SELECT sdp.report('html', 'before', 'after')});
open my $fh, '>', "$dir/report.html" or die $!;
print $fh $html;
close $fh;
unlike($html, qr/<script|<link|<img|\b(?:src|href)=|\@import|url\(/i, 'self-contained: no script, no external resource');

my @flags = ('--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
	"--user-data-dir=$dir/chromium", '--window-size=1280,2000');
my $dom = `HOME=$dir $chromium @flags --dump-dom file://$dir/report.html 2>/dev/null`;
ok(length($dom) > 1000, 'Chromium rendered the report');
my $svgs = () = $dom =~ /<svg\b/g;
is($svgs, 2, 'two inline SVG charts');
my $bars = () = $dom =~ /<rect\b[^>]*width="[1-9]/g;
cmp_ok($bars, '>=', 4, 'the charts have bars');
like($dom, qr/Latency percentiles of the top queries \(log scale\)/,
	'latencies four decades apart are drawn on a log axis');
my $decades = () = $dom =~ /<line\b[^>]*stroke="#ccc"/g;
cmp_ok($decades, '>=', 4, "with a gridline per decade ($decades)");
unlike($dom, qr/Time by query \(log scale\)/, 'totals stay linear');
my $tables = () = $dom =~ /<table>/g;
cmp_ok($tables, '>=', 5, 'the sections are tables');
like($dom, qr/<h2>Before and after: before → after<\/h2>/, 'the comparison section is there');
like($dom, qr/WHERE user_id = \$1/, 'the top query is shown');
like($dom, qr/<pre class="plan">[^<]*Seq Scan on orders/, 'slow plans are preformatted, unwrapped (pre.plan)');
like($dom, qr/<td><pre>[^<]*filter removes [\d.]+% of the rows read \(Seq Scan on public\.deliveries\)\n\s+An index would read only the rows kept: CREATE INDEX ON public\.deliveries \(farm_id\);/,
	'the advice sits beside the plan');
like($dom, qr/>\d+(\.\d)? µs</, 'durations below a millisecond print in µs');
unlike($dom, qr/>0\.00 ms</, 'never as 0.00 ms');
like($dom, qr/<tr><th>query_shapes<\/th><td>\d+<\/td><\/tr>/, 'the summary is one figure per line');
like($dom, qr/<div style="overflow-x:auto">\s*<table>\s*<tbody><tr><th>status<\/th>/,
	'the wide comparison scrolls inside the page');
like($dom, qr/<td>unused<\/td><td>orders<\/td><td>orders_total_text<\/td>/, 'the unused index is up for review');
unlike($dom, qr/maintenance_log_started_idx/, "the extension's own indexes are not");

system("HOME=$dir $chromium @flags --screenshot=$dir/report.png file://$dir/report.html >/dev/null 2>&1");
ok(-s "$dir/report.png" > 20000, 'a screenshot of it was taken (' . (-s "$dir/report.png" // 0) . ' bytes)');
# SDP_REPORT_PNG=/path keeps the screenshot for a person to look at
system('cp', "$dir/report.png", $ENV{SDP_REPORT_PNG}) if $ENV{SDP_REPORT_PNG};

$node->stop;
done_testing();
