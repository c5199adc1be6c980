/*-------------------------------------------------------------------------
 *
 * partition_manager.c
 *	  Range partitions by date or time, kept ahead of time and pruned by
 *	  retention: sdp.manage_partitions(), sdp.create_partitions(),
 *	  sdp.prune_partitions() and sdp.run_partition_maintenance(), and the
 *	  per-table step the background worker runs in its own transaction.
 *
 *	  Boundaries are computed as timestamps in the table's
 *	  partition_timezone (for timestamptz keys the bound is
 *	  that wall-clock time in that zone), so the same partitions come out
 *	  whatever the session's TimeZone and DateStyle.  Bound arithmetic and
 *	  catalog reads are set-based SQL run through SPI with the values as
 *	  parameters; this file orders the steps, checks input, quotes every
 *	  identifier and isolates failures.
 *
 *	  Whose rights: every statement that touches a managed table (CREATE,
 *	  ATTACH, DETACH, DROP, the row move) runs as the table's owner inside a
 *	  security-restricted operation (run_as_owner.c), so the owner's
 *	  triggers, defaults and index expressions never run with more rights
 *	  than the owner's, and the partitions made are the owner's.  All SQL
 *	  runs under search_path = pg_catalog, pg_temp.  A configuration row is
 *	  acted on only while the role that wrote it has the privileges of the
 *	  table's owner.
 *
 *	  Safety rules:
 *	  - a partition is created only where no partition covers any part of
 *	    its range: as a table shaped like the parent, filled with the rows
 *	    the default partition holds for its range, then attached.  The rows
 *	    move with session_replication_role = replica, so no foreign-key
 *	    action and no ordinary trigger fires for a relocation the
 *	    application never made; a default partition with ALWAYS or REPLICA
 *	    triggers keeps its rows (the period is reported, not created);
 *	  - the periods made are bounded: the premake window, the gaps between
 *	    existing partitions, and periods of rows in the default partition
 *	    that lie between the first partition (or premake intervals before
 *	    now, when earlier) and the end of the premake window, and are not
 *	    older than the retention.  Rows outside that window,
 *	    infinite keys included, stay in the default partition with a
 *	    WARNING and a log row; one call never makes more than
 *	    smart_dairy_perf.partition_max_create partitions;
 *	  - a partition name taken by another table (a partition detached by
 *	    retention) gets a numbered suffix instead of failing every run, and
 *	    after ten taken ones a random one (names squatted in a shared
 *	    schema);
 *	  - one period that cannot be made (its own error) is logged and the
 *	    other periods still are; every DDL step takes its locks parent
 *	    first under the short lock_timeout of lock_retry.c, and a lock not
 *	    had rolls back the attempt (creation ahead, or retention, each
 *	    retried on its own) and, after the retries, gives up the table for
 *	    this run; the functions a user calls directly make one attempt;
 *	  - a new partition gets the parent's replica identity and its columns'
 *	    statistics targets and options, which PostgreSQL does not pass down;
 *	  - retention detaches or drops only partitions whose whole range ends
 *	    at or before now() - retention; never the default partition, never
 *	    one a foreign key references (partition_detach.c); the background
 *	    worker detaches them concurrently after the table's transaction;
 *	  - every action on a parent holds maintenance_lock.c's lock on it, so
 *	    two maintenance runs never act on one parent at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/tablespace.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "maintenance_lock.h"
#include "maintenance_log.h"
#include "lock_retry.h"
#include "partition_detach.h"
#include "partition_manager.h"
#include "run_as_owner.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_manage_partitions);
PG_FUNCTION_INFO_V1(sdp_create_partitions);
PG_FUNCTION_INFO_V1(sdp_prune_partitions);
PG_FUNCTION_INFO_V1(sdp_run_partition_maintenance);

/* numbered suffixes tried when a partition's name is taken */
#define PARTITION_NAME_TRIES	10

typedef struct PartitionConfig
{
	Interval	interval;
	int			premake;
	bool		has_retention;
	Interval	retention;
	char	   *mode;
	Oid			configured_by;	/* InvalidOid: unknown */
	bool		default_partition;	/* make a default partition */
	char	   *timezone;		/* of the period boundaries */
	bool		keep_referenced;	/* retention keeps what an FK references */
} PartitionConfig;

/* One period of periods_sql's result, copied out of SPI's memory. */
typedef struct Period
{
	char	   *suffix;			/* "p2024_01"; NULL: the rows-outside summary */
	char	   *from_local;		/* bounds as local timestamps (ISO, AD) */
	char	   *to_local;
	char	   *range_from;		/* bounds as the key type shows them */
	char	   *range_to;
	char	   *outside_message;	/* the summary's log message */
} Period;

static char *
qualified(const char *schema, const char *name)
{
	return quote_qualified_identifier(schema, name);
}

/* Register or update a parent's configuration; caller connected to SPI. */
void
sdp_partition_save_config(Oid parent, Interval *interval, int premake,
						  Interval *retention, const char *mode,
						  bool default_partition, const char *timezone,
						  const char *if_referenced)
{
	Oid			types[8] = {REGCLASSOID, INTERVALOID, INT4OID, INTERVALOID, TEXTOID,
	BOOLOID, TEXTOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', retention ? ' ' : 'n', ' ', ' ', ' ', ' '};

	values[0] = ObjectIdGetDatum(parent);
	values[1] = IntervalPGetDatum(interval);
	values[2] = Int32GetDatum(premake);
	values[3] = retention ? IntervalPGetDatum(retention) : (Datum) 0;
	values[4] = CStringGetTextDatum(mode);
	values[5] = BoolGetDatum(default_partition);
	values[6] = CStringGetTextDatum(timezone);
	values[7] = CStringGetTextDatum(if_referenced);
	sdp_spi_exec("INSERT INTO sdp.partition_config "
				 "(parent, partition_interval, premake, retention, retention_mode, "
				 " default_partition, partition_timezone, retention_if_referenced) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
				 "ON CONFLICT (parent) DO UPDATE SET "
				 "partition_interval = EXCLUDED.partition_interval, "
				 "premake = EXCLUDED.premake, retention = EXCLUDED.retention, "
				 "retention_mode = EXCLUDED.retention_mode, "
				 "default_partition = EXCLUDED.default_partition, "
				 "partition_timezone = EXCLUDED.partition_timezone, "
				 "retention_if_referenced = EXCLUDED.retention_if_referenced",
				 8, types, values, nulls);
}

/*
 * A time zone for period boundaries must be one PostgreSQL knows: checked
 * before it is saved (a bad one would fail every run of that table).
 * Caller connected to SPI.
 */
static void
check_timezone(const char *timezone)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(timezone)};

	/* "time zone ... not recognized" from PostgreSQL itself */
	(void) sdp_spi_exec("SELECT pg_catalog.now() AT TIME ZONE $1", 1, types, values, NULL);
}

static bool
load_config(Oid parent, PartitionConfig *cfg)
{
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(parent)};
	bool		isnull;
	Datum		d;

	if (sdp_spi_exec("SELECT partition_interval, premake, retention, retention_mode, "
					 "       configured_by::oid AS configured_by, default_partition, "
					 "       partition_timezone, retention_if_referenced = 'keep' AS keep_referenced "
					 "FROM sdp.partition_config WHERE parent = $1",
					 1, types, values, NULL) == 0)
		return false;
	cfg->interval = *DatumGetIntervalP(sdp_spi_get(0, "partition_interval", INTERVALOID, &isnull));
	cfg->premake = DatumGetInt32(sdp_spi_get(0, "premake", INT4OID, &isnull));
	d = sdp_spi_get(0, "retention", INTERVALOID, &isnull);
	cfg->has_retention = !isnull;
	if (!isnull)
		cfg->retention = *DatumGetIntervalP(d);
	cfg->mode = pstrdup(sdp_spi_get_text(0, "retention_mode"));
	d = sdp_spi_get(0, "configured_by", OIDOID, &isnull);
	cfg->configured_by = isnull ? InvalidOid : DatumGetObjectId(d);
	cfg->default_partition = sdp_spi_bool(0, "default_partition");
	cfg->timezone = pstrdup(sdp_spi_get_text(0, "partition_timezone"));
	cfg->keep_referenced = sdp_spi_bool(0, "keep_referenced");
	return true;
}

static void
require_config(Oid parent, PartitionConfig *cfg)
{
	if (!load_config(parent, cfg))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not managed by smart_dairy_perf",
						get_rel_name(parent)),
				 errhint("Register it first with sdp.manage_partitions().")));
}

/*
 * The configuration must have been written by a role with the owner's
 * privileges: the worker acts on it with the owner's rights.
 */
static void
check_config_writer(Oid parent, PartitionConfig *cfg)
{
	if (!sdp_config_writer_may_act(cfg->configured_by, parent))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("configuration of table \"%s\" was not written by its owner",
						get_rel_name(parent)),
				 errdetail("The row of sdp.partition_config was written by role \"%s\", which does not have the privileges of the owner \"%s\".",
						   OidIsValid(cfg->configured_by) ?
						   GetUserNameFromId(cfg->configured_by, true) : "(unknown)",
						   GetUserNameFromId(sdp_relation_owner(parent), true)),
				 errhint("The owner can register the table again with sdp.manage_partitions().")));
}

/*
 * The columns of relid that INSERT ... SELECT can copy (not generated, not
 * dropped), quoted and comma-separated, in attnum order, palloc'd in the
 * current memory context.  Caller connected to SPI.
 */
char *
sdp_partition_copyable_columns(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return pstrdup(sdp_spi_scalar_text(
		"SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) "
		"FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 "
		"AND NOT attisdropped AND attgenerated = ''",
		1, types, values));
}

/*
 * SQL expression of a bound given as a local timestamp text (ISO, AD).
 * Pasted as literals, not passed as $n: CREATE TABLE ... PARTITION OF and
 * ATTACH PARTITION are utility statements, which take no parameters.
 */
static char *
bound_expr(const SdpPartitionKey *key, const char *local)
{
	Assert(local != NULL);
	if (key->typid == TIMESTAMPTZOID)
		return psprintf("(%s::pg_catalog.timestamp AT TIME ZONE %s)",
						quote_literal_cstr(local),
						quote_literal_cstr(key->timezone));
	return psprintf("%s::pg_catalog.%s", quote_literal_cstr(local),
					sdp_partition_bound_cast(key->typid));
}

static void
report_row(SdpPartitionReport *report, const char *partition,
		   const char *from, const char *to, int64 moved)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (report == NULL || report->rsinfo == NULL)
		return;
	values[0] = CStringGetTextDatum(partition);
	values[1] = CStringGetTextDatum(from);
	values[2] = CStringGetTextDatum(to);
	values[3] = Int64GetDatum(moved);
	tuplestore_putvalues(report->rsinfo->setResult, report->rsinfo->setDesc,
						 values, nulls);
}

/*
 * A name for a new table in the parent's schema: <parent>_<suffix>, or with
 * _1, _2, ... appended when another table has it (a partition detached by
 * retention keeps its name).  ERROR when none is free.
 */
static char *
free_table_name(const SdpPartitionKey *key, const char *suffix)
{
	Oid			nsp = get_rel_namespace(key->relid);
	char	   *name = sdp_partition_name(key->relname, suffix);

	for (int i = 1; OidIsValid(get_relname_relid(name, nsp)); i++)
	{
		uint32		r;

		if (i <= PARTITION_NAME_TRIES)
		{
			name = sdp_partition_name(key->relname, psprintf("%s_%d", suffix, i));
			continue;
		}
		/* names squatted by another role: one nobody can guess */
		if (i > 2 * PARTITION_NAME_TRIES || !pg_strong_random(&r, sizeof(r)))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("no free name for partition \"%s\" of table \"%s\"",
							sdp_partition_name(key->relname, suffix), key->relname),
					 errhint("Drop or rename the tables called %s_1 to %s_%d.",
							 sdp_partition_name(key->relname, suffix),
							 sdp_partition_name(key->relname, suffix),
							 PARTITION_NAME_TRIES)));
		name = sdp_partition_name(key->relname, psprintf("%s_%08x", suffix, r));
	}
	return name;
}

/*
 * Give a partition what PostgreSQL does not pass down from its parent by
 * itself: the columns' statistics targets and options (n_distinct, ...),
 * and the replica identity (FULL, NOTHING, or the partition's index that is
 * attached to the parent's replica identity index), which logical
 * replication checks on the partition a row is written to.  Storage
 * parameters (fillfactor, autovacuum_*) cannot be set on a partitioned
 * table in PostgreSQL 15, so there is nothing to copy them from.
 *
 * sdp_column_settings() returns the statements that give the columns of
 * qtarget the statistics targets and options of source's.
 */
List *
sdp_column_settings(Oid source, const char *qtarget)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(source)};
	List	   *stmts = NIL;
	uint64		n;

	/* pg_attver is the server's own attribute version, not a setting */
	n = sdp_spi_exec("SELECT a.attname::text AS attname, a.attstattarget AS stattarget, "
					 "       NULL::text AS option_name, NULL::text AS option_value, a.attnum "
					 "  FROM pg_catalog.pg_attribute a "
					 " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped "
					 "   AND a.attstattarget >= 0 "
					 "UNION ALL "
					 "SELECT a.attname::text, -1, o.option_name::text, o.option_value::text, a.attnum "
					 "  FROM pg_catalog.pg_attribute a, "
					 "       pg_catalog.pg_options_to_table(a.attoptions) o "
					 " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped "
					 "   AND o.option_name <> 'pg_attver' "
					 "ORDER BY 5, 3 NULLS FIRST",
					 1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *attname = sdp_spi_get_text(i, "attname");
		int32		target = DatumGetInt32(sdp_spi_get(i, "stattarget", INT4OID, &isnull));
		char	   *option = sdp_spi_get_text(i, "option_name");

		if (option == NULL)
			stmts = lappend(stmts, psprintf("ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d",
											qtarget, quote_identifier(attname), target));
		else
			stmts = lappend(stmts, psprintf("ALTER TABLE %s ALTER COLUMN %s SET (%s = %s)",
											qtarget, quote_identifier(attname),
											quote_identifier(option),
											quote_literal_cstr(sdp_spi_get_text(i, "option_value"))));
	}
	return stmts;
}

/*
 * sdp_partition_inherit_properties() applies them, and the replica
 * identity, to partition, as its owner.  Caller connected to SPI.
 */
void
sdp_partition_inherit_properties(Oid parent, Oid partition)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(parent), ObjectIdGetDatum(partition)};
	char	   *qpart = qualified(get_namespace_name(get_rel_namespace(partition)),
								  get_rel_name(partition));
	List	   *stmts = sdp_column_settings(parent, qpart);
	ListCell   *lc;
	char	   *replident;
	char	   *part_index;

	sdp_spi_exec("SELECT c.relreplident::text AS replident, "
				 "       (SELECT pi.relname::text FROM pg_catalog.pg_index x "
				 "          JOIN pg_catalog.pg_inherits h ON h.inhparent = x.indexrelid "
				 "          JOIN pg_catalog.pg_index y ON y.indexrelid = h.inhrelid "
				 "          JOIN pg_catalog.pg_class pi ON pi.oid = y.indexrelid "
				 "         WHERE x.indrelid = $1 AND x.indisreplident AND y.indrelid = $2) AS part_index "
				 "  FROM pg_catalog.pg_class c WHERE c.oid = $1",
				 2, types, values, NULL);
	replident = sdp_spi_get_text(0, "replident");
	part_index = sdp_spi_get_text(0, "part_index");
	if (strcmp(replident, "f") == 0)
		stmts = lappend(stmts, psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", qpart));
	else if (strcmp(replident, "n") == 0)
		stmts = lappend(stmts, psprintf("ALTER TABLE %s REPLICA IDENTITY NOTHING", qpart));
	else if (strcmp(replident, "i") == 0)
	{
		if (part_index == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("partition \"%s\" has no index attached to the replica identity index of table \"%s\"",
							get_rel_name(partition), get_rel_name(parent))));
		stmts = lappend(stmts, psprintf("ALTER TABLE %s REPLICA IDENTITY USING INDEX %s",
										qpart, quote_identifier(part_index)));
	}

	foreach(lc, stmts)
		sdp_spi_exec_as_owner(sdp_relation_owner(partition), (char *) lfirst(lc));
}

/*
 * Give the parent a default partition (<parent>_default) if it has none, as
 * the owner.  Caller connected to SPI, holding the parent's maintenance lock.
 */
void
sdp_partition_ensure_default(const SdpPartitionKey *key, SdpPartitionReport *report)
{
	char	   *qname;

	if (OidIsValid(get_default_partition_oid(key->relid)))
		return;
	qname = qualified(key->schema, free_table_name(key, "default"));
	sdp_spi_exec_as_owner(key->owner,
						  psprintf("CREATE TABLE %s PARTITION OF %s DEFAULT", qname,
								   qualified(key->schema, key->relname)));
	sdp_partition_inherit_properties(key->relid, get_default_partition_oid(key->relid));
	if (report && report->log)
		sdp_maintenance_log_rel(key->relid, report->started, qname,
								"create default partition", "ok", NULL);
	report_row(report, qname, "DEFAULT", "DEFAULT", 0);
}

/*
 * Refuse to move rows out of the default partition def when a trigger or
 * rule on it would fire even with session_replication_role = replica
 * (ENABLE ALWAYS or ENABLE REPLICA).  Caller connected to SPI.
 */
static void
check_nothing_fires_on_move(Oid def)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(def)};
	bool		is_rule;
	char	   *name;

	if (sdp_spi_exec("SELECT false AS is_rule, tgname::text AS name FROM pg_catalog.pg_trigger "
					 "WHERE tgrelid = $1 AND tgenabled IN ('A', 'R') "
					 "UNION ALL "
					 "SELECT true, rulename::text FROM pg_catalog.pg_rewrite "
					 "WHERE ev_class = $1 AND ev_enabled IN ('A', 'R') "
					 "ORDER BY 1 DESC, 2 LIMIT 1", 1, types, values, NULL) == 0)
		return;
	is_rule = sdp_spi_bool(0, "is_rule");
	name = sdp_spi_get_text(0, "name");
	if (is_rule)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot move rows out of default partition \"%s\": rule \"%s\" fires on every change",
						get_rel_name(def), name),
				 errdetail("Moving a row is a DELETE and an INSERT that the application never made; a rule enabled ALWAYS or REPLICA would see them."),
				 errhint("Move the rows yourself, or enable it as an ordinary one (ALTER TABLE ... ENABLE RULE).")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot move rows out of default partition \"%s\": trigger \"%s\" fires on every change",
					get_rel_name(def), name),
			 errdetail("Moving a row is a DELETE and an INSERT that the application never made; a trigger enabled ALWAYS or REPLICA would see them."),
			 errhint("Move the rows yourself, or enable it as an ordinary one (ALTER TABLE ... ENABLE TRIGGER).")));
}

/*
 * Move the default partition's rows of a range into the standalone table
 * qname, as the owner, with session_replication_role = replica: no
 * foreign-key action (ON DELETE CASCADE would delete referencing rows) and
 * no ordinary trigger sees the relocation.  Returns the rows moved.
 */
static int64
move_rows(const SdpPartitionKey *key, Oid def, const char *qname,
		  const char *range)
{
	char	   *qdef = qualified(get_namespace_name(get_rel_namespace(def)),
								 get_rel_name(def));
	char	   *cols;
	SdpSavedUser saved;
	int64		moved;

	if (sdp_spi_exec_as_owner(key->owner,
							  psprintf("SELECT 1 FROM ONLY %s WHERE %s LIMIT 1", qdef, range)) == 0)
		return 0;
	check_nothing_fires_on_move(def);
	cols = sdp_partition_copyable_columns(key->relid);

	sdp_become_owner(key->owner, &saved);
	(void) set_config_option("session_replication_role", "replica",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	moved = sdp_spi_exec(psprintf("WITH moved AS (DELETE FROM ONLY %s WHERE %s RETURNING %s) "
								  "INSERT INTO %s (%s) SELECT %s FROM moved",
								  qdef, range, cols, qname, cols, cols),
						 0, NULL, NULL, NULL);
	sdp_restore_user(&saved);
	return moved;
}

/*
 * Create one partition [from, to): a table shaped like the parent, owned
 * by the parent's owner, holding the default partition's rows of that
 * range, then attached (SHARE UPDATE EXCLUSIVE on the parent).  Runs in the
 * caller's (sub)transaction.  Returns the rows moved.
 */
static int64
create_partition(const SdpPartitionKey *key, const Period *period,
				 SdpPartitionReport *report)
{
	char	   *qparent = qualified(key->schema, key->relname);
	char	   *qname = qualified(key->schema, free_table_name(key, period->suffix));
	char	   *lo = bound_expr(key, period->from_local);
	char	   *hi = bound_expr(key, period->to_local);
	Oid			def = get_default_partition_oid(key->relid);
	Oid			tablespace = get_rel_tablespace(key->relid);
	int64		moved = 0;

	/*
	 * The locks ATTACH takes, in a fixed order, parent first, under the
	 * caller's short lock_timeout: the parent's SHARE UPDATE EXCLUSIVE
	 * (readers and writers go on), then the default partition's ACCESS
	 * EXCLUSIVE, which a long reader of the parent holds up.
	 */
	LockRelationOid(key->relid, ShareUpdateExclusiveLock);
	if (OidIsValid(def))
		LockRelationOid(def, AccessExclusiveLock);

	sdp_spi_exec_as_owner(key->owner,
						  psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
								   "INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION)%s%s",
								   qname, qparent,
								   OidIsValid(tablespace) ? " TABLESPACE " : "",
								   OidIsValid(tablespace) ?
								   quote_identifier(get_tablespace_name(tablespace)) : ""));
	if (OidIsValid(def))
		moved = move_rows(key, def, qname,
						  psprintf("%s >= %s AND %s < %s",
								   quote_identifier(key->column), lo,
								   quote_identifier(key->column), hi));
	sdp_spi_exec_as_owner(key->owner,
						  psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%s) TO (%s)",
								   qparent, qname, lo, hi));
	sdp_partition_inherit_properties(key->relid,
									 DatumGetObjectId(DirectFunctionCall1(regclassin,
																		  CStringGetDatum(qname))));

	if (report && report->log)
		sdp_maintenance_log_rel(key->relid, report->started, qname, "create partition", "ok",
								moved > 0 ?
								psprintf("range [%s, %s), %lld rows moved from the default partition",
										 period->range_from, period->range_to, (long long) moved) :
								psprintf("range [%s, %s)", period->range_from, period->range_to));
	report_row(report, qname, period->range_from, period->range_to, moved);
	return moved;
}

typedef struct CreateArgs
{
	const SdpPartitionKey *key;
	const Period *period;
	SdpPartitionReport *report;
} CreateArgs;

static void
create_partition_isolated(void *arg)
{
	CreateArgs *a = arg;

	(void) create_partition(a->key, a->period, a->report);
}

/* No infinite or BC bounds from the caller: they would ask for no end of partitions. */
static void
check_finite_bound(Datum value, const char *what)
{
	TimestampTz t = DatumGetTimestampTz(value);

	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite time", what),
				 errhint("Give the first or last period to partition, e.g. '2024-01-01'.")));
}

/*
 * The periods that need a partition, aligned on the step, as local
 * timestamps: the window from now (or $4) to premake intervals ahead (or
 * $5); the gaps between existing partitions up to that window's end; and
 * the periods holding rows in the source ($11: the table being registered,
 * whose every period counts; otherwise the default partition, whose
 * periods count only from the first partition, or premake intervals
 * before now when earlier, to the window's end, and only while not older
 * than the retention $10).  Periods an existing partition overlaps,
 * even partly, are left out; so are periods outside years 1 to 9998, and
 * periods of a timestamptz key that a daylight-saving change leaves empty
 * (the hour skipped in spring: its neighbours meet).
 * Column "outside" counts the source's rows no period was made for.
 * $1 parent, $2 interval, $3 premake, $6 key type, $7 time zone, $8
 * date_trunc unit, $9 name format, $10 retention.
 */
static const char *const periods_sql =
"WITH now_local AS (SELECT pg_catalog.date_trunc($8, pg_catalog.now() AT TIME ZONE $7) AS t), "
"existing AS (SELECT from_local, to_local FROM sdp._range_partitions($7, $1) "
"             WHERE NOT is_default), "
"data AS (SELECT pg_catalog.date_trunc($8, local) AS g, pg_catalog.count(*) AS nrows "
"           FROM (%s) s(local) WHERE local IS NOT NULL GROUP BY 1), "
"limits AS (SELECT n.t + $2 * $3 AS window_end, "
"                  GREATEST(n.t + $2 * $3, pg_catalog.date_trunc($8, $5 AT TIME ZONE $7)) AS last_period, "
"                  CASE WHEN $11 THEN '0001-01-01'::pg_catalog.timestamp "
"                       ELSE LEAST(coalesce((SELECT pg_catalog.min(from_local) FROM existing "
"                                             WHERE from_local > '-infinity'), n.t), "
"                                  n.t - $2 * $3) "
"                  END AS data_from, "
"                  CASE WHEN $11 THEN '9999-01-01'::pg_catalog.timestamp "
"                       ELSE GREATEST(n.t + $2 * $3, pg_catalog.date_trunc($8, $5 AT TIME ZONE $7)) "
"                  END AS data_to "
"             FROM now_local n), "
"wanted AS ("
"  SELECT g FROM now_local n, limits l, pg_catalog.generate_series("
"         pg_catalog.date_trunc($8, LEAST(n.t, $4 AT TIME ZONE $7)), l.last_period, $2) g "
"  UNION "
"  SELECT g FROM limits l, "
"         (SELECT pg_catalog.min(from_local) AS lo, pg_catalog.max(to_local) AS hi FROM existing "
"           WHERE from_local > '-infinity' AND to_local < 'infinity') e, "
"         pg_catalog.generate_series(e.lo, e.hi, $2) g "
"   WHERE g < e.hi AND g <= l.window_end "
"  UNION "
"  SELECT d.g FROM data d, limits l "
"   WHERE pg_catalog.isfinite(d.g) AND d.g >= l.data_from AND d.g <= l.data_to "
"     AND ($11 OR $10 IS NULL OR d.g + $2 > (pg_catalog.now() AT TIME ZONE $7) - $10)), "
"todo AS (SELECT w.g FROM wanted w "
"          WHERE w.g IS NOT NULL AND pg_catalog.isfinite(w.g) "
"            AND w.g >= '0001-01-01' AND w.g < '9999-01-01' "
"            AND ($6 <> 'pg_catalog.timestamptz'::pg_catalog.regtype "
"                 OR (w.g AT TIME ZONE $7) < ((w.g + $2) AT TIME ZONE $7)) "
"            AND NOT EXISTS (SELECT 1 FROM existing e "
"                             WHERE e.from_local < w.g + $2 AND e.to_local > w.g)) "
"SELECT pg_catalog.to_char(t.g, $9) AS suffix, "
"       pg_catalog.to_char(t.g, 'YYYY-MM-DD HH24:MI:SS') AS from_local, "
"       pg_catalog.to_char(t.g + $2, 'YYYY-MM-DD HH24:MI:SS') AS to_local, "
"       sdp._bound_text(t.g, $6, $7) AS range_from, sdp._bound_text(t.g + $2, $6, $7) AS range_to, "
"       NULL::pg_catalog.int8 AS outside, NULL::pg_catalog.text AS outside_first, "
"       NULL::pg_catalog.text AS outside_last "
"  FROM todo t "
"UNION ALL "
"SELECT NULL, NULL, NULL, NULL, NULL, pg_catalog.sum(d.nrows)::pg_catalog.int8, "
"       sdp._period_text(pg_catalog.min(d.g)), sdp._period_text(pg_catalog.max(d.g)) "
"  FROM data d "
" WHERE NOT EXISTS (SELECT 1 FROM todo t WHERE t.g = d.g) "
"   AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.from_local <= d.g AND e.to_local > d.g) "
"HAVING pg_catalog.count(*) > 0 "
"ORDER BY 2 NULLS LAST";

/*
 * Create every missing partition (see periods_sql): for the window from
 * now (or start_at) to premake intervals ahead (or up_to), the gaps, and
 * the rows of data_source (a relation to scan, at registration) or of the
 * default partition.  Caller is connected to SPI, holds the parent's
 * maintenance lock and runs with search_path = pg_catalog, pg_temp.
 * Returns the number created.
 */
int
sdp_partition_create_missing(const SdpPartitionKey *key, Interval *interval,
							 int premake, const Interval *retention,
							 const char *data_source, Datum start_at,
							 bool has_start, Datum up_to, bool has_up_to,
							 SdpPartitionReport *report)
{
	const SdpPartitionStep *step = sdp_partition_step(interval);
	Oid			def = get_default_partition_oid(key->relid);
	char	   *col = (char *) quote_identifier(key->column);
	char	   *source_sql = "SELECT NULL::pg_catalog.timestamp";
	Oid			types[11] = {OIDOID, INTERVALOID, INT4OID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, REGTYPEOID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID,
	BOOLOID};
	Datum		values[11];
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 'n', ' '};
	uint64		n;
	uint64		nperiods = 0;
	uint64		ncreate = 0;
	int			created = 0;
	Period	   *periods;

	if (has_start)
		check_finite_bound(start_at, "start_at");
	if (has_up_to)
		check_finite_bound(up_to, "up_to");

	/* where rows lie: the table given (at registration), else the default */
	if (data_source != NULL || OidIsValid(def))
	{
		const char *source = data_source != NULL
			? data_source
			: psprintf("ONLY %s", qualified(get_namespace_name(get_rel_namespace(def)),
											get_rel_name(def)));

		source_sql = key->typid == TIMESTAMPTZOID
			? psprintf("SELECT %s AT TIME ZONE $7 FROM %s", col, source)
			: psprintf("SELECT %s::pg_catalog.timestamp FROM %s", col, source);
	}

	/* with a retention, rows older than it get no partition */
	if (retention != NULL)
	{
		values[9] = IntervalPGetDatum(retention);
		nulls[9] = ' ';
	}

	values[0] = ObjectIdGetDatum(key->relid);
	values[1] = IntervalPGetDatum(interval);
	values[2] = Int32GetDatum(premake);
	values[3] = has_start ? start_at : (Datum) 0;
	nulls[3] = has_start ? ' ' : 'n';
	values[4] = has_up_to ? up_to : (Datum) 0;
	nulls[4] = has_up_to ? ' ' : 'n';
	values[5] = ObjectIdGetDatum(key->typid);
	values[6] = CStringGetTextDatum(key->timezone);
	values[7] = CStringGetTextDatum(step->trunc_unit);
	values[8] = CStringGetTextDatum(step->name_format);
	values[10] = BoolGetDatum(data_source != NULL);

	/* it reads the owner's table: as the owner */
	n = sdp_spi_exec_params_as_owner(key->owner, psprintf(periods_sql, source_sql),
									 11, types, values, nulls);

	/* copy the periods out of SPI's result before running more statements */
	periods = palloc(sizeof(Period) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		Period	   *p = &periods[nperiods++];
		char	   *suffix = sdp_spi_get_text(i, "suffix");

		if (suffix == NULL)
		{
			/* the summary row: rows no partition is made for */
			int64		outside = sdp_spi_int64(i, "outside");
			char	   *first = sdp_spi_get_text(i, "outside_first");
			char	   *last = sdp_spi_get_text(i, "outside_last");

			if (data_source != NULL)
			{
				nperiods--;
				continue;		/* registration: the rows stay in the default */
			}
			ereport(WARNING,
					(errmsg("%lld rows of table \"%s\" stay in its default partition",
							(long long) outside, key->relname),
					 errdetail("Their keys lie outside the periods maintenance makes partitions for (periods from %s to %s): before the first partition, older than the retention, beyond the premake window, or infinite.",
							   first, last),
					 errhint("Create partitions for them with sdp.create_partitions(parent, up_to => ...) or move or delete the rows.")));
			memset(p, 0, sizeof(*p));
			p->outside_message = psprintf("%lld rows of the default partition lie outside the managed window "
										  "(periods from %s to %s) and stay there",
										  (long long) outside, first, last);
			continue;
		}
		p->suffix = psprintf("p%s", suffix);
		p->from_local = sdp_spi_get_text(i, "from_local");
		p->to_local = sdp_spi_get_text(i, "to_local");
		p->range_from = sdp_spi_get_text(i, "range_from");
		p->range_to = sdp_spi_get_text(i, "range_to");
		p->outside_message = NULL;
		ncreate++;
	}

	/* all or nothing: too many is a mistake to be told, not a long run */
	if (ncreate > (uint64) sdp_partition_max_create)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("table \"%s\" would get %llu new partitions, more than smart_dairy_perf.partition_max_create (%d)",
						key->relname, (unsigned long long) ncreate,
						sdp_partition_max_create),
				 errhint("Check the rows of the default partition and the premake, start_at and up_to values, or raise smart_dairy_perf.partition_max_create.")));

	for (uint64 i = 0; i < nperiods; i++)
	{
		Period	   *p = &periods[i];
		CreateArgs	args = {key, p, report};
		ErrorData  *edata;

		if (p->suffix == NULL)
		{
			if (report && report->log)
				sdp_maintenance_log_rel(key->relid, report->started,
										qualified(key->schema, key->relname),
										"rows outside the managed window", "skipped",
										p->outside_message);
			continue;
		}
		edata = sdp_run_in_subtransaction(create_partition_isolated, &args);
		if (edata == NULL)
		{
			created++;
			continue;
		}
		/* a lock not had in time gives up the table, not one period */
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		if (report && report->log)
			sdp_maintenance_log_failure(key->relid, report->started,
										qualified(key->schema, sdp_partition_name(key->relname, p->suffix)),
										"create partition", "error",
										psprintf("range [%s, %s): %s", p->range_from,
												 p->range_to, edata->message),
										edata->message,
										"could not create partition for range [%s, %s) of table \"%s\"",
										p->range_from, p->range_to, key->relname);
		else
			ereport(WARNING,
					(errmsg("could not create partition for range [%s, %s) of table \"%s\"",
							p->range_from, p->range_to, key->relname),
					 errdetail("%s", edata->message)));
		FreeErrorData(edata);
	}
	return created;
}

/*
 * Detach or drop the partitions whose whole range ended before
 * now() - retention, as the owner; report every partition with what was
 * (or would be) done to it.  A partition a foreign key references (or, when
 * dropping, a view depends on) is refused with a log row and a WARNING
 * naming it, or kept with a log row (retention_if_referenced = 'keep').
 * With deferred (the background worker) and no default partition, the
 * expired partitions are appended to *deferred, allocated in
 * deferred_cxt, for DETACH ... CONCURRENTLY outside this transaction;
 * otherwise each is detached here with a plain DETACH PARTITION, its locks
 * taken parent first under the caller's lock_timeout.  Returns the number
 * of partitions removed (or deferred).
 */
static int
prune_expired_partitions(const SdpPartitionKey *key, PartitionConfig *cfg,
						 bool dry_run, SdpPartitionReport *report,
						 List **deferred, MemoryContext deferred_cxt)
{
	Oid			types[3] = {OIDOID, INTERVALOID, TEXTOID};
	Datum		values[3];
	uint64		n;
	int			removed = 0;
	bool		drop = strcmp(cfg->mode, "drop") == 0;
	Oid			def = get_default_partition_oid(key->relid);
	char	   *qparent = qualified(key->schema, key->relname);
	MemoryContext cxt = CurrentMemoryContext;
	typedef struct Child
	{
		Oid			oid;
		char	   *name;
		char	   *qname;
		char	   *from;
		char	   *to;
		int64		rows;
		bool		expired;
	}			Child;
	Child	   *children;

	if (!cfg->has_retention)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no retention is configured for table \"%s\"", key->relname),
				 errhint("Set it with sdp.manage_partitions(..., retention => '12 months') "
						 "or in sdp.partition_config.")));

	values[0] = ObjectIdGetDatum(key->relid);
	values[1] = IntervalPGetDatum(&cfg->retention);
	values[2] = CStringGetTextDatum(key->timezone);
	n = sdp_spi_exec("SELECT p.partition::pg_catalog.oid AS oid, "
					 "       p.partition::pg_catalog.text AS name, p.range_from, p.range_to, "
					 "       GREATEST(c.reltuples, 0)::pg_catalog.int8 AS row_estimate, "
					 "       p.to_local <= (pg_catalog.now() AT TIME ZONE $3) - $2 AS expired, "
					 "       pg_catalog.quote_ident(n.nspname) || '.' || "
					 "       pg_catalog.quote_ident(c.relname) AS qname "
					 "  FROM sdp._range_partitions($3, $1) p "
					 "  JOIN pg_catalog.pg_class c ON c.oid = p.partition "
					 "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					 " WHERE NOT p.is_default "
					 "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i "
					 "                    WHERE i.inhrelid = c.oid AND i.inhdetachpending) "
					 " ORDER BY p.from_local",
					 3, types, values, NULL);
	children = MemoryContextAlloc(cxt, sizeof(Child) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		children[i].oid = DatumGetObjectId(sdp_spi_get(i, "oid", OIDOID, &isnull));
		children[i].name = MemoryContextStrdup(cxt, sdp_spi_get_text(i, "name"));
		children[i].qname = MemoryContextStrdup(cxt, sdp_spi_get_text(i, "qname"));
		children[i].from = MemoryContextStrdup(cxt, sdp_spi_get_text(i, "range_from"));
		children[i].to = MemoryContextStrdup(cxt, sdp_spi_get_text(i, "range_to"));
		children[i].rows = sdp_spi_int64(i, "row_estimate");
		children[i].expired = sdp_spi_bool(i, "expired");
	}

	for (uint64 i = 0; i < n; i++)
	{
		Child	   *c = &children[i];
		const char *action;
		char	   *blocker = c->expired ? sdp_retention_blocker(c->oid, drop) : NULL;

		if (!c->expired)
			action = "keep";
		else if (blocker != NULL)
		{
			action = cfg->keep_referenced ? (dry_run ? "would keep" : "kept")
				: (dry_run ? "would refuse" : "refused");
			if (!dry_run && cfg->keep_referenced && report && report->log)
				sdp_maintenance_log_rel(key->relid, report->started, c->name,
										drop ? "drop partition" : "detach partition", "skipped",
										psprintf("range [%s, %s) is past the retention but kept: %s "
												 "(retention_if_referenced = 'keep')",
												 c->from, c->to, blocker));
			else if (!dry_run && !cfg->keep_referenced)
			{
				if (report && report->log)
					sdp_maintenance_log_rel(key->relid, report->started, c->name,
											drop ? "drop partition" : "detach partition", "error",
											psprintf("retention refused: %s", blocker));
				ereport(WARNING,
						(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
						 errmsg("retention of partition \"%s\" of table \"%s\" refused: %s",
								c->name, key->relname, blocker),
						 errdetail("Its range [%s, %s) ended before now() - retention; nothing was detached or dropped.",
								   c->from, c->to),
						 errhint("Drop or change what depends on it, or set retention_if_referenced = 'keep' in sdp.partition_config to keep such partitions.")));
			}
		}
		else if (dry_run)
			action = drop ? "would drop" : "would detach";
		else if (deferred != NULL && !OidIsValid(def))
		{
			MemoryContext old = MemoryContextSwitchTo(deferred_cxt);
			SdpDeferredDetach *d = palloc0(sizeof(SdpDeferredDetach));

			d->parent = key->relid;
			d->partition = c->oid;
			d->owner = key->owner;
			d->qparent = pstrdup(qparent);
			d->qpartition = pstrdup(c->qname);
			d->range = psprintf("[%s, %s)", c->from, c->to);
			d->drop = drop;
			*deferred = lappend(*deferred, d);
			MemoryContextSwitchTo(old);
			action = drop ? "dropping" : "detaching";
			removed++;
		}
		else
		{
			const char *why = OidIsValid(def) ? "a default partition exists"
				: "inside the caller's transaction";

			/* logged first: a failure rolls the row back with the action */
			if (report && report->log)
				sdp_maintenance_log_rel(key->relid, report->started, c->name,
										drop ? "drop partition" : "detach partition", "ok",
										psprintf("range [%s, %s) ended before now() - retention; "
												 "plain %s under lock_timeout (%s)",
												 c->from, c->to,
												 drop ? "DROP TABLE" : "DETACH PARTITION", why));
			/* parent first: DROP TABLE would lock the partition before it */
			LockRelationOid(key->relid, AccessExclusiveLock);
			if (drop)
				sdp_spi_exec_as_owner(key->owner, psprintf("DROP TABLE %s", c->qname));
			else
				sdp_spi_exec_as_owner(key->owner,
									  psprintf("ALTER TABLE %s DETACH PARTITION %s",
											   qparent, c->qname));
			action = drop ? "dropped" : "detached";
			removed++;
		}

		if (report && report->rsinfo)
		{
			Datum		out[5];
			bool		outnulls[5] = {false, false, false, false, false};

			out[0] = CStringGetTextDatum(c->name);
			out[1] = CStringGetTextDatum(c->from);
			out[2] = CStringGetTextDatum(c->to);
			out[3] = Int64GetDatum(c->rows);
			out[4] = CStringGetTextDatum(action);
			tuplestore_putvalues(report->rsinfo->setResult,
								 report->rsinfo->setDesc, out, outnulls);
		}
	}
	return removed;
}

/*
 * Lock the parent's maintenance, waiting at most the longest lock attempt
 * of lock_retry.c for it and for every lock the statements that follow
 * take (one attempt: these functions run in the caller's transaction),
 * until the caller's AtEOXact_GUC(true, returned level).  Also restricts
 * search_path.
 */
static int
enter_parent(Oid parent)
{
	int			nestlevel = sdp_restrict_search_path();

	sdp_limit_lock_wait(sdp_lock_attempts() - 1);
	(void) sdp_lock_partitioned_table(parent, true);
	return nestlevel;
}

/*
 * A registered table's zone changes only while it has no range partitions:
 * theirs were computed in the old one, and periods in the new one would
 * overlap them (left out) and leave gaps.  Caller connected to SPI.
 */
static void
check_zone_unused(const SdpPartitionKey *key, const char *old_zone,
				  const char *new_zone)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(key->relid)};

	if (sdp_spi_exec("SELECT 1 FROM pg_catalog.pg_inherits i "
					 "  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
					 " WHERE i.inhparent = $1 "
					 "   AND pg_catalog.pg_get_expr(c.relpartbound, 0) <> 'DEFAULT' LIMIT 1",
					 1, types, values, NULL) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" has partitions in time zone \"%s\"", key->relname, old_zone),
			 errdetail("Periods in time zone \"%s\" would overlap them and leave gaps.", new_zone),
			 errhint("Leave partition_timezone out (or NULL) to keep \"%s\".", old_zone)));
}

/*
 * sdp.manage_partitions(parent, partition_interval, premake, retention,
 *                       retention_mode, start_at, default_partition,
 *                       partition_timezone, retention_if_referenced)
 */
Datum
sdp_manage_partitions(PG_FUNCTION_ARGS)
{
	Oid			parent;
	Interval   *interval;
	int			premake;
	Interval   *retention;
	char	   *mode;
	bool		default_partition;
	char	   *timezone;
	char	   *if_referenced;
	SdpPartitionKey key;
	SdpPartitionReport report;
	PartitionConfig old;
	bool		registered;
	int			nestlevel;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parent, partition_interval, premake and retention_mode must not be NULL")));
	parent = PG_GETARG_OID(0);
	interval = PG_GETARG_INTERVAL_P(1);
	premake = PG_GETARG_INT32(2);
	retention = PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3);
	mode = text_to_cstring(PG_GETARG_TEXT_PP(4));

	/* all checks before any change */
	(void) sdp_partition_step(interval);
	sdp_partition_check_premake(premake);
	sdp_partition_check_retention(retention, mode);
	sdp_partition_check_owner(parent);
	sdp_partition_key(parent, &key);
	if (!PG_ARGISNULL(5))
		check_finite_bound(PG_GETARG_DATUM(5), "start_at");

	InitMaterializedSRF(fcinfo, 0);
	report.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	report.log = true;
	report.started = GetCurrentTimestamp();

	SPI_connect();
	nestlevel = enter_parent(parent);
	/* NULL: what the table has (registered again), else the default */
	registered = load_config(parent, &old);
	default_partition = !PG_ARGISNULL(6) ? PG_GETARG_BOOL(6)
		: registered ? old.default_partition : true;
	timezone = !PG_ARGISNULL(7) ? text_to_cstring(PG_GETARG_TEXT_PP(7))
		: registered ? old.timezone : pstrdup(sdp_partition_timezone);
	if_referenced = !PG_ARGISNULL(8) ? text_to_cstring(PG_GETARG_TEXT_PP(8))
		: registered && old.keep_referenced ? "keep" : "error";
	if (strcmp(if_referenced, "error") != 0 && strcmp(if_referenced, "keep") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retention_if_referenced \"%s\"", if_referenced),
				 errhint("Use 'error' (refuse and log) or 'keep' (keep and log).")));
	check_timezone(timezone);
	if (registered && strcmp(old.timezone, timezone) != 0)
		check_zone_unused(&key, old.timezone, timezone);
	key.timezone = timezone;
	sdp_partition_save_config(parent, interval, premake, retention, mode,
							  default_partition, timezone, if_referenced);
	if (default_partition)
		sdp_partition_ensure_default(&key, &report);
	sdp_partition_create_missing(&key, interval, premake, retention,
								 qualified(key.schema, key.relname),
								 PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5),
								 !PG_ARGISNULL(5), (Datum) 0, false, &report);
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	return (Datum) 0;
}

/* sdp.create_partitions(parent, up_to) */
Datum
sdp_create_partitions(PG_FUNCTION_ARGS)
{
	Oid			parent;
	SdpPartitionKey key;
	SdpPartitionReport report;
	PartitionConfig cfg;
	int			nestlevel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parent must not be NULL")));
	parent = PG_GETARG_OID(0);
	sdp_partition_check_owner(parent);
	sdp_partition_key(parent, &key);

	InitMaterializedSRF(fcinfo, 0);
	report.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	report.log = true;
	report.started = GetCurrentTimestamp();

	SPI_connect();
	nestlevel = enter_parent(parent);
	require_config(parent, &cfg);
	key.timezone = cfg.timezone;
	sdp_partition_check_premake(cfg.premake);
	sdp_partition_create_missing(&key, &cfg.interval, cfg.premake,
								 cfg.has_retention ? &cfg.retention : NULL, NULL,
								 (Datum) 0, false,
								 PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
								 !PG_ARGISNULL(1), &report);
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	return (Datum) 0;
}

/* sdp.prune_partitions(parent, dry_run) */
Datum
sdp_prune_partitions(PG_FUNCTION_ARGS)
{
	Oid			parent;
	bool		dry_run;
	SdpPartitionKey key;
	SdpPartitionReport report;
	PartitionConfig cfg;
	int			nestlevel;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parent and dry_run must not be NULL")));
	parent = PG_GETARG_OID(0);
	dry_run = PG_GETARG_BOOL(1);
	sdp_partition_check_owner(parent);
	sdp_partition_key(parent, &key);

	InitMaterializedSRF(fcinfo, 0);
	report.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	report.log = !dry_run;
	report.started = GetCurrentTimestamp();

	SPI_connect();
	nestlevel = enter_parent(parent);
	require_config(parent, &cfg);
	check_config_writer(parent, &cfg);
	key.timezone = cfg.timezone;
	sdp_partition_check_retention(cfg.has_retention ? &cfg.retention : NULL, cfg.mode);
	if (dry_run ||
		sdp_partition_finalize_pending(parent, key.owner, qualified(key.schema, key.relname),
									   cfg.timezone, cfg.has_retention ? &cfg.retention : NULL,
									   strcmp(cfg.mode, "drop") == 0, report.started))
		prune_expired_partitions(&key, &cfg, dry_run, &report, NULL, NULL);
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	return (Datum) 0;
}

static void
maintenance_row(ReturnSetInfo *rsinfo, const char *parent, const char *action,
				const char *status, const char *message)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, message == NULL};

	if (rsinfo == NULL)
		return;
	values[0] = CStringGetTextDatum(parent);
	values[1] = CStringGetTextDatum(action);
	values[2] = CStringGetTextDatum(status);
	values[3] = message ? CStringGetTextDatum(message) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

typedef struct MaintainParentArgs
{
	Oid			parent;
	const char *name;
	TimestampTz started;
	int			attempt;		/* of lock_retry.c, 0 first */
	bool		retention_phase;	/* false: finish pending detaches and create */
	bool		no_pending;		/* no detach left pending (set by the first phase) */
	List	  **deferred;		/* NULL: detach here */
	MemoryContext deferred_cxt;
	/* the result rows, written once the attempt succeeded */
	const char *skipped;
	char	   *created;
	char	   *retention;
} MaintainParentArgs;

/*
 * One attempt at one phase of one parent's maintenance; runs inside its
 * own subtransaction, whose rollback releases every lock it took.  The
 * first phase finishes a pending detach, then creates ahead; the second
 * is retention, so that a long reader holding up a DETACH does not undo
 * the partitions made.
 */
static void
maintain_parent(MaintainParentArgs *a)
{
	PartitionConfig cfg;
	SdpPartitionKey key;
	SdpPartitionReport report = {NULL, true, a->started};
	int			created;
	int			removed = 0;
	int			nestlevel;
	bool		drop;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(a->parent)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with OID %u no longer exists", a->parent),
				 errhint("Remove its row from sdp.partition_config.")));
	nestlevel = sdp_restrict_search_path();
	if (!sdp_lock_partitioned_table(a->parent, false))
	{
		sdp_maintenance_log_rel(a->parent, a->started, a->name, "maintenance", "skipped",
								"another maintenance run holds this table");
		a->skipped = "another maintenance run holds this table";
		AtEOXact_GUC(true, nestlevel);
		return;
	}
	sdp_limit_lock_wait(a->attempt);
	require_config(a->parent, &cfg);
	check_config_writer(a->parent, &cfg);
	(void) sdp_partition_step(&cfg.interval);
	sdp_partition_check_premake(cfg.premake);
	sdp_partition_check_retention(cfg.has_retention ? &cfg.retention : NULL, cfg.mode);
	sdp_partition_key(a->parent, &key);
	key.timezone = cfg.timezone;
	drop = strcmp(cfg.mode, "drop") == 0;

	if (!a->retention_phase)
	{
		/* PostgreSQL allows no other DETACH or ATTACH while one is pending */
		a->no_pending = sdp_partition_finalize_pending(a->parent, key.owner,
													   qualified(key.schema, key.relname),
													   cfg.timezone,
													   cfg.has_retention ? &cfg.retention : NULL,
													   drop, a->started);
		created = sdp_partition_create_missing(&key, &cfg.interval, cfg.premake,
											   cfg.has_retention ? &cfg.retention : NULL, NULL,
											   (Datum) 0, false, (Datum) 0, false,
											   &report);
		a->created = psprintf("%d created", created);
	}
	else if (cfg.has_retention && !a->no_pending)
		a->retention = pstrdup("waits for a pending detach");
	else if (cfg.has_retention)
	{
		removed = prune_expired_partitions(&key, &cfg, false, &report,
										   a->deferred, a->deferred_cxt);
		a->retention = psprintf("%d %s", removed,
								a->deferred && *a->deferred != NIL
								? (drop ? "to drop after DETACH CONCURRENTLY" : "to DETACH CONCURRENTLY")
								: (drop ? "dropped" : "detached"));
	}
	AtEOXact_GUC(true, nestlevel);
}

static void
maintain_parent_isolated(void *arg)
{
	maintain_parent((MaintainParentArgs *) arg);
}

/*
 * For a table without a default partition whose creation ahead was given
 * up: where its partitions end, after which an INSERT fails ("" when it
 * has a default partition).  Caller connected to SPI.
 */
static const char *
coverage_note(Oid parent)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(parent)};
	char	   *last;

	if (OidIsValid(get_default_partition_oid(parent)))
		return "";
	last = sdp_spi_scalar_text("SELECT p.range_to FROM sdp.partition_config c, "
							   "     sdp._range_partitions(c.partition_timezone, c.parent) p "
							   " WHERE c.parent = $1 AND NOT p.is_default "
							   " ORDER BY p.to_local DESC LIMIT 1", 1, types, values);
	if (last == NULL)
		return "";
	return psprintf("; it has no default partition: rows from %s on fail their INSERT until then", last);
}

/*
 * Maintain one configured parent in a subtransaction of the caller's
 * transaction, logging a failure; rsinfo may be NULL.  A lock not had
 * within an attempt's lock_timeout rolls the attempt back (its locks go
 * with it) and, after a backoff, the parent is tried again, up to
 * smart_dairy_perf.maintenance_lock_retries times; then it is "skipped"
 * for this run, not an error.  deferred (the background worker) gets the
 * partitions to detach concurrently after this transaction, allocated in
 * deferred_cxt.  Caller is connected to SPI.  Returns false when it failed.
 */
bool
sdp_partition_maintain_one(Oid parent, const char *name, ReturnSetInfo *rsinfo,
						   List **deferred, MemoryContext deferred_cxt)
{
	MaintainParentArgs args = {parent, name, GetCurrentTimestamp(), 0, false, true,
	deferred, deferred_cxt};
	int			attempts = sdp_lock_attempts();
	ErrorData  *edata = NULL;
	bool		lock_busy;

	if (deferred)
		*deferred = NIL;
	for (int phase = 0; phase < 2; phase++)
	{
		args.retention_phase = phase == 1;
		for (args.attempt = 0;; args.attempt++)
		{
			args.skipped = NULL;
			args.created = args.retention = NULL;
			if (deferred)
				*deferred = NIL;
			edata = sdp_run_in_subtransaction(maintain_parent_isolated, &args);
			if (edata == NULL || edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE ||
				args.attempt + 1 >= attempts)
				break;
			FreeErrorData(edata);
			sdp_lock_retry_backoff(args.attempt);
		}
		if (edata != NULL)
			break;
		if (args.skipped)
		{
			maintenance_row(rsinfo, name, "maintenance", "skipped", args.skipped);
			return true;
		}
		if (args.created)
			maintenance_row(rsinfo, name, "create partitions", "ok", args.created);
		if (args.retention)
			maintenance_row(rsinfo, name, "retention", "ok", args.retention);
	}
	if (edata == NULL)
		return true;
	if (deferred)
		*deferred = NIL;
	lock_busy = edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
	if (lock_busy)
		sdp_maintenance_log_failure(parent, args.started, name, "maintenance", "skipped",
									psprintf("%s: %s (%s); the table is tried again at the next run%s",
											 args.retention_phase ? "retention" : "create partitions",
											 edata->message,
											 sdp_lock_attempts_text(args.attempt + 1),
											 args.retention_phase ? "" : coverage_note(parent)),
									edata->message,
									"partition maintenance of table \"%s\" gave up for this run",
									name);
	else
		sdp_maintenance_log_failure(parent, args.started, name, "maintenance", "error",
									NULL, edata->message,
									"partition maintenance of table \"%s\" failed", name);
	maintenance_row(rsinfo, name, "maintenance", lock_busy ? "skipped" : "error",
					edata->message);
	FreeErrorData(edata);
	return lock_busy;
}

/*
 * The configured parents, by name, in the caller's memory context; their
 * names as the current search_path shows them.  Caller connected to SPI.
 */
int
sdp_partition_configured_parents(Oid **parents, char ***names)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		n = sdp_spi_exec("SELECT parent::pg_catalog.oid AS parent, "
								 "       parent::pg_catalog.text AS name "
								 "FROM sdp.partition_config ORDER BY parent::pg_catalog.text",
								 0, NULL, NULL, NULL);

	*parents = MemoryContextAlloc(cxt, sizeof(Oid) * Max(n, 1));
	*names = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		(*parents)[i] = DatumGetObjectId(sdp_spi_get(i, "parent", OIDOID, &isnull));
		(*names)[i] = MemoryContextStrdup(cxt, sdp_spi_get_text(i, "name"));
	}
	return (int) n;
}

/* sdp.run_partition_maintenance(): every configured parent, each isolated */
Datum
sdp_run_partition_maintenance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	MemoryContext callercxt = CurrentMemoryContext;
	Oid		   *parents;
	char	  **names;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	SPI_connect();
	n = sdp_partition_configured_parents(&parents, &names);
	for (int i = 0; i < n; i++)
		(void) sdp_partition_maintain_one(parents[i], names[i], rsinfo, NULL, NULL);
	SPI_finish();
	MemoryContextSwitchTo(callercxt);
	return (Datum) 0;
}
