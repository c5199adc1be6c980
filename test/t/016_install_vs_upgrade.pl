# A fresh install (CREATE EXTENSION: the full 1.3 script built from
# src/sql/) and the upgrade chain (1.0, then ALTER EXTENSION UPDATE through
# 1.0--1.1, 1.1--1.2, 1.2--1.3) must produce the same objects.  One query
# describes schema sdp from the catalogs, one line per fact (function bodies,
# view definitions and comments one line per line of text), with names
# instead of OIDs; the two descriptions must be identical, and the lines
# that differ are printed when they are not.  Function bodies are compared
# byte for byte.  Left out: OIDs, and the pg_attver entry this server keeps
# in a column's attoptions (its stamp of the column's creation, different in
# any two databases).
#
# Also: CREATE EXTENSION without a version runs the full script directly
# (no upgrade step: an event trigger sees no DROP, ALTER FUNCTION or ALTER
# VIEW, which the chain cannot do without), and the installed full script
# holds each definition once (no CREATE OR REPLACE, DROP, ALTER FUNCTION).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('install_vs_upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'smart_dairy_perf'");
$node->start;

# the full script is installed, and holds each definition once
my $sharedir = $node->config_data('--sharedir');
my $script = "$sharedir/extension/smart_dairy_perf--1.3.sql";
ok(-f $script, 'the full install script of 1.3 is installed');
my $text = slurp_file($script);
like($text, qr/^\\echo Use "CREATE EXTENSION smart_dairy_perf" to load this file\. \\quit$/m,
	'it refuses to be run from psql');
is(scalar(() = $text =~ /^\\echo /mg), 1, 'with the guard once');
my @chains = $text =~ /^((?:CREATE OR REPLACE|DROP|ALTER FUNCTION|ALTER VIEW|DO)\b.*)$/mg;
is(join("\n", @chains), '', 'no CREATE OR REPLACE, DROP, ALTER FUNCTION, ALTER VIEW or DO in it');

# every DDL command an extension script runs, seen by an event trigger
my $ddl_log = q{
CREATE TABLE public.ddl_log (n serial, tag text, identity text);
CREATE FUNCTION public.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ddl_log (tag, identity)
    SELECT command_tag, object_identity FROM pg_catalog.pg_event_trigger_ddl_commands();
END $$;
CREATE FUNCTION public.log_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ddl_log (tag, identity)
    SELECT 'DROP ' || object_type, object_identity FROM pg_catalog.pg_event_trigger_dropped_objects();
END $$;
CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION public.log_ddl();
CREATE EVENT TRIGGER log_drop ON sql_drop EXECUTE FUNCTION public.log_drop();
};

$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql($_, $ddl_log) for qw(upgraded fresh);

$node->safe_psql('upgraded', q{CREATE EXTENSION smart_dairy_perf VERSION '1.0'});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'smart_dairy_perf'}),
	'1.0', 'the 1.0 install script still installs 1.0');
$node->safe_psql('upgraded', q{ALTER EXTENSION smart_dairy_perf UPDATE});
$node->safe_psql('fresh', q{CREATE EXTENSION smart_dairy_perf});

for my $db (qw(upgraded fresh))
{
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'smart_dairy_perf'}),
		'1.3', "$db: version 1.3");
}

# the chain drops and alters what it recreates; the full script does not
my $upgrade_steps = q{SELECT count(*) FROM public.ddl_log
	WHERE tag IN ('ALTER FUNCTION', 'ALTER VIEW') OR tag LIKE 'DROP %'};
isnt($node->safe_psql('upgraded', $upgrade_steps), '0', 'the chain alters and drops (the control)');
is($node->safe_psql('fresh', $upgrade_steps), '0',
	'CREATE EXTENSION ran the full script: nothing dropped or altered after creation');
is($node->safe_psql('fresh', q{SELECT count(*) FROM public.ddl_log WHERE tag = 'CREATE FUNCTION'}),
	$node->safe_psql('fresh', q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'sdp'::regnamespace}),
	'each function created once');

$node->safe_psql($_, q{DROP EVENT TRIGGER log_ddl; DROP EVENT TRIGGER log_drop;
	DROP FUNCTION public.log_ddl(), public.log_drop(); DROP TABLE public.ddl_log})
	for qw(upgraded fresh);

# Schema sdp as the catalogs hold it, one line per fact: key, then the
# line number within a multi-line value (bodies, view definitions).
my $describe = <<'SQL';
WITH ns AS (SELECT 'sdp'::regnamespace AS oid),
ext AS (SELECT * FROM pg_extension WHERE extname = 'smart_dairy_perf'),
rels AS (SELECT c.* FROM pg_class c, ns WHERE c.relnamespace = ns.oid),
facts(key, value) AS (
    SELECT 'extension', format('version=%s relocatable=%s schema=%s', extversion, extrelocatable,
                               extnamespace::regnamespace)
      FROM ext
    UNION ALL
    SELECT format('extension config %s', o), format('%s %s', t::regclass, c)
      FROM ext, unnest(extconfig, extcondition) WITH ORDINALITY u(t, c, o)
    UNION ALL
    SELECT format('member %s', pg_describe_object(d.classid, d.objid, d.objsubid)), d.deptype::text
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
    UNION ALL
    SELECT 'schema sdp', format('owner=%s acl=%s', n.nspowner::regrole, n.nspacl)
      FROM pg_namespace n, ns WHERE n.oid = ns.oid
    -- functions
    UNION ALL
    SELECT format('function %s(%s)', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
           format('kind=%s language=%s volatility=%s strict=%s security_definer=%s leakproof=%s '
                  'parallel=%s cost=%s rows=%s retset=%s variadic=%s support=%s owner=%s',
                  p.prokind, l.lanname, p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof,
                  p.proparallel, p.procost, p.prorows, p.proretset, p.provariadic::regtype,
                  p.prosupport, p.proowner::regrole)
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang, ns WHERE p.pronamespace = ns.oid
    UNION ALL
    SELECT format('function %s(%s) arguments', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
           pg_get_function_arguments(p.oid)
      FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
    UNION ALL
    SELECT format('function %s(%s) result', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
           pg_get_function_result(p.oid)
      FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
    UNION ALL
    SELECT format('function %s(%s) config', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
           coalesce(p.proconfig::text, '-')
      FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
    UNION ALL
    SELECT format('function %s(%s) acl', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
           coalesce(p.proacl::text, '-')
      FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
    UNION ALL
    SELECT format('function %s(%s) body', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
           format('probin=%s prosrc=%s', coalesce(p.probin, '-'), p.prosrc)
      FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
    -- relations: tables, views, sequences, indexes
    UNION ALL
    SELECT format('relation %s', c.relname),
           format('kind=%s persistence=%s owner=%s rls=%s force_rls=%s replident=%s options=%s '
                  'hasindex=%s hastriggers=%s ispartition=%s am=%s tablespace=%s',
                  c.relkind, c.relpersistence, c.relowner::regrole, c.relrowsecurity,
                  c.relforcerowsecurity, c.relreplident, c.reloptions, c.relhasindex,
                  c.relhastriggers, c.relispartition,
                  (SELECT amname FROM pg_am WHERE oid = c.relam), c.reltablespace)
      FROM rels c
    UNION ALL
    SELECT format('relation %s acl', c.relname), coalesce(c.relacl::text, '-')
      FROM rels c
    UNION ALL
    SELECT format('view %s', c.relname), pg_get_viewdef(c.oid)
      FROM rels c WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('column %s.%s', c.relname, a.attname),
           format('#%s type=%s not_null=%s default=%s identity=%s generated=%s collation=%s '
                  'storage=%s stattarget=%s options=%s acl=%s',
                  a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                  a.attcollation::regcollation, a.attstorage, a.attstattarget,
                  -- not the server's own stamp of the column's creation
                  array(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg_attver=%'),
                  a.attacl)
      FROM rels c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE c.relkind <> 'i'
    UNION ALL
    SELECT format('constraint %s on %s', k.conname, k.conrelid::regclass),
           format('%s deferrable=%s deferred=%s validated=%s', pg_get_constraintdef(k.oid),
                  k.condeferrable, k.condeferred, k.convalidated)
      FROM pg_constraint k, ns WHERE k.connamespace = ns.oid
    UNION ALL
    SELECT format('index %s', c.relname), pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN rels c ON c.oid = i.indexrelid
    UNION ALL
    SELECT format('trigger %s on %s', t.tgname, c.relname),
           format('%s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
      FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s on %s', p.polname, c.relname),
           format('cmd=%s permissive=%s roles=%s using=%s check=%s', p.polcmd, p.polpermissive,
                  p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_policy p JOIN rels c ON c.oid = p.polrelid
    UNION ALL
    SELECT format('rule %s on %s', r.rulename, c.relname), pg_get_ruledef(r.oid)
      FROM pg_rewrite r JOIN rels c ON c.oid = r.ev_class WHERE r.rulename <> '_RETURN'
    UNION ALL
    SELECT format('sequence %s', c.relname),
           format('type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
                  s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
                  s.seqcycle,
                  (SELECT string_agg(format('%s.%s', d.refobjid::regclass, a.attname), ',')
                     FROM pg_depend d
                     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')
                      AND d.refclassid = 'pg_class'::regclass))
      FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
    UNION ALL
    SELECT format('type %s', t.typname), format('typtype=%s owner=%s acl=%s', t.typtype,
                                                t.typowner::regrole, t.typacl)
      FROM pg_type t, ns WHERE t.typnamespace = ns.oid
    -- comments on anything in the schema, and on the schema
    UNION ALL
    SELECT format('comment on %s', pg_describe_object(d.classoid, d.objoid, d.objsubid)), d.description
      FROM pg_description d, ns,
           LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
     WHERE o.schema = 'sdp' OR (d.classoid = 'pg_namespace'::regclass AND d.objoid = ns.oid)
    -- initial privileges recorded for pg_dump
    UNION ALL
    SELECT format('init privs %s', pg_describe_object(i.classoid, i.objoid, i.objsubid)),
           format('%s %s', i.privtype, i.initprivs)
      FROM pg_init_privs i, ns,
           LATERAL pg_identify_object(i.classoid, i.objoid, i.objsubid) o
     WHERE o.schema = 'sdp' OR (i.classoid = 'pg_namespace'::regclass AND i.objoid = ns.oid)
)
SELECT f.key || ' [' || l.n || ']: ' || l.line
  FROM facts f,
       LATERAL regexp_split_to_table(coalesce(f.value, '<NULL>'), E'\n') WITH ORDINALITY l(line, n)
 ORDER BY f.key COLLATE "C", l.n
SQL

my %desc;
for my $db (qw(upgraded fresh))
{
	$desc{$db} = [ split /\n/, $node->safe_psql($db, $describe) ];
	note "$db: " . scalar(@{ $desc{$db} }) . " lines of description";
}

# the description covers what it should (not vacuously equal)
my $fresh_text = join("\n", @{ $desc{fresh} });
for my $expect (
	'function sdp.report(format text, before text, after text) body',
	'function sdp._range_partitions(tz text, only_parent regclass) config [1]: {"DateStyle=ISO, YMD",TimeZone=UTC,IntervalStyle=postgres,"search_path=pg_catalog, pg_temp"}',
	'function sdp.recommend_indexes(min_improvement_pct numeric) config [1]: -',
	'relation matviews [1]: kind=v ',
	'security_invoker=true',
	'policy own_objects on maintenance_log',
	'trigger check_config_writer on matview_config',
	'column partition_config.configured_by [1]: #7 type=regrole',
	'column maintenance_log.object_owner [1]: #8 type=oid',
	'extension config 7 [1]: sdp.snapshots WHERE NOT automatic',
	'member function sdp._period_text(timestamp without time zone)',
	'comment on column object_owner of table sdp.maintenance_log',
	'sequence snapshots_id_seq [1]: type=bigint',
	'relation observed_predicates acl [1]: {',
	'index maintenance_log_started_idx')
{
	ok(index($fresh_text, $expect) >= 0, "the description has: $expect");
}

# every SQL and PL/pgSQL function runs with search_path = pg_catalog,
# pg_temp but the two that must see the caller's (they plan or explain the
# caller's statements, and name everything else fully):
# sdp.recommend_indexes(numeric) and sdp.explain_advice(text, boolean, boolean)
is($node->safe_psql('fresh', q{
SELECT string_agg(p.oid::regprocedure::text, ', ')
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'sdp'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
   AND p.oid NOT IN ('sdp.recommend_indexes(numeric)'::regprocedure, 'sdp.explain_advice(text, boolean, boolean)'::regprocedure)
   AND NOT 'search_path=pg_catalog, pg_temp' = ANY (coalesce(p.proconfig, '{}'))}),
	'', 'fresh: every SQL function has the restricted search_path');

my %in_fresh = map { $_ => 1 } @{ $desc{fresh} };
my %in_upgraded = map { $_ => 1 } @{ $desc{upgraded} };
my @only_upgraded = grep { !$in_fresh{$_} } @{ $desc{upgraded} };
my @only_fresh = grep { !$in_upgraded{$_} } @{ $desc{fresh} };
diag("only after the upgrade chain: $_") for @only_upgraded;
diag("only after a fresh install:   $_") for @only_fresh;
is(scalar(@only_upgraded) + scalar(@only_fresh), 0,
	'a fresh install and the upgrade chain describe the same objects');
is_deeply($desc{fresh}, $desc{upgraded}, 'line for line, in the same order');

$node->stop;
done_testing();
