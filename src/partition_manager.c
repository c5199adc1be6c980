/*-------------------------------------------------------------------------
 *
 * partition_manager.c
 *	  Range partitions by date or time, kept ahead of time and pruned by
 *	  retention: sdp.manage_partitions(), sdp.create_partitions(),
 *	  sdp.prune_partitions() and sdp.run_partition_maintenance().
 *
 *	  Boundaries are computed as timestamps in
 *	  smart_dairy_perf.partition_timezone (for timestamptz keys the bound is
 *	  that wall-clock time in that zone), so the same partitions come out
 *	  whatever the session's TimeZone.  Bound arithmetic and catalog reads
 *	  are set-based SQL run through SPI; this file orders the steps, checks
 *	  input, quotes every identifier and isolates failures.
 *
 *	  Safety rules:
 *	  - a partition is created only where no partition covers any part of
 *	    its range; rows the default partition holds for that range are moved
 *	    into it in the same transaction (no error left for a cron job);
 *	  - retention detaches or drops only partitions whose whole range ends
 *	    at or before now() - retention; never the default partition;
 *	  - every action on a parent holds a transaction-level advisory lock on
 *	    it, so two maintenance runs never act on one parent at once;
 *	  - a new partition gets the parent's replica identity and its columns'
 *	    statistics targets and options, which PostgreSQL does not pass down;
 *	  - in sdp.run_partition_maintenance() each parent runs in its own
 *	    subtransaction: a failure (lock_timeout included) is logged to
 *	    sdp.maintenance_log and the next parent still runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "partition_manager.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_manage_partitions);
PG_FUNCTION_INFO_V1(sdp_create_partitions);
PG_FUNCTION_INFO_V1(sdp_prune_partitions);
PG_FUNCTION_INFO_V1(sdp_run_partition_maintenance);

/* first key of the advisory locks taken on managed parents ("SDPP") */
#define SDP_PARTITION_LOCK_CLASS	0x53445050

typedef struct PartitionConfig
{
	Interval	interval;
	int			premake;
	bool		has_retention;
	Interval	retention;
	char	   *mode;
} PartitionConfig;

static char *
qualified(const char *schema, const char *name)
{
	return quote_qualified_identifier(schema, name);
}

/* Wait for the advisory lock on a parent (respects lock_timeout). */
void
sdp_partition_lock(Oid parent)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		values[2] = {Int32GetDatum(SDP_PARTITION_LOCK_CLASS),
	Int32GetDatum((int32) parent)};

	sdp_spi_exec("SELECT pg_catalog.pg_advisory_xact_lock($1, $2)", 2, types,
				 values, NULL);
}

static bool
try_partition_lock(Oid parent)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		values[2] = {Int32GetDatum(SDP_PARTITION_LOCK_CLASS),
	Int32GetDatum((int32) parent)};
	bool		isnull;

	sdp_spi_exec("SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)", 2, types,
				 values, NULL);
	return DatumGetBool(sdp_spi_datum(0, 1, &isnull));
}

void
sdp_maintenance_log(TimestampTz started, const char *object,
					const char *action, const char *status, const char *message)
{
	Oid			types[5] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', message ? ' ' : 'n'};

	values[0] = TimestampTzGetDatum(started);
	values[1] = CStringGetTextDatum(object);
	values[2] = CStringGetTextDatum(action);
	values[3] = CStringGetTextDatum(status);
	values[4] = message ? CStringGetTextDatum(message) : (Datum) 0;
	sdp_spi_exec("INSERT INTO sdp.maintenance_log (started, object, action, status, message) "
				 "VALUES ($1, $2, $3, $4, $5)", 5, types, values, nulls);
}

void
sdp_partition_save_config(Oid parent, Interval *interval, int premake,
						  Interval *retention, const char *mode)
{
	Oid			types[5] = {REGCLASSOID, INTERVALOID, INT4OID, INTERVALOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', retention ? ' ' : 'n', ' '};

	values[0] = ObjectIdGetDatum(parent);
	values[1] = IntervalPGetDatum(interval);
	values[2] = Int32GetDatum(premake);
	values[3] = retention ? IntervalPGetDatum(retention) : (Datum) 0;
	values[4] = CStringGetTextDatum(mode);
	sdp_spi_exec("INSERT INTO sdp.partition_config "
				 "(parent, partition_interval, premake, retention, retention_mode) "
				 "VALUES ($1, $2, $3, $4, $5) "
				 "ON CONFLICT (parent) DO UPDATE SET "
				 "partition_interval = EXCLUDED.partition_interval, "
				 "premake = EXCLUDED.premake, retention = EXCLUDED.retention, "
				 "retention_mode = EXCLUDED.retention_mode",
				 5, types, values, nulls);
}

static bool
load_config(Oid parent, PartitionConfig *cfg)
{
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(parent)};
	bool		isnull;

	if (sdp_spi_exec("SELECT partition_interval, premake, retention, retention_mode "
					 "FROM sdp.partition_config WHERE parent = $1",
					 1, types, values, NULL) == 0)
		return false;
	cfg->interval = *DatumGetIntervalP(sdp_spi_datum(0, 1, &isnull));
	cfg->premake = DatumGetInt32(sdp_spi_datum(0, 2, &isnull));
	{
		Datum		r = sdp_spi_datum(0, 3, &isnull);

		cfg->has_retention = !isnull;
		if (!isnull)
			cfg->retention = *DatumGetIntervalP(r);
	}
	cfg->mode = pstrdup(sdp_spi_value(0, 4));
	return true;
}

static void
require_config(Oid parent, PartitionConfig *cfg)
{
	if (!load_config(parent, cfg))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s is not managed by smart_dairy_perf",
						get_rel_name(parent)),
				 errhint("Register it first with sdp.manage_partitions().")));
}

/* The default partition of the parent, or InvalidOid. */
static Oid
default_partition(Oid parent)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(parent)};
	bool		isnull;

	if (sdp_spi_exec("SELECT c.oid FROM pg_catalog.pg_inherits i "
					 "JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
					 "WHERE i.inhparent = $1 "
					 "AND pg_catalog.pg_get_expr(c.relpartbound, 0) = 'DEFAULT'",
					 1, types, values, NULL) == 0)
		return InvalidOid;
	return DatumGetObjectId(sdp_spi_datum(0, 1, &isnull));
}

/* Parent columns that can be copied with INSERT ... SELECT, quoted. */
static char *
copyable_columns(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return pstrdup(sdp_spi_scalar_text(
		"SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) "
		"FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 "
		"AND NOT attisdropped AND attgenerated = ''",
		1, types, values));
}

/* SQL expression of a bound given as a local timestamp text. */
static char *
bound_expr(const SdpPartitionKey *key, const char *local)
{
	if (key->typid == TIMESTAMPTZOID)
		return psprintf("(%s::timestamp AT TIME ZONE %s)",
						quote_literal_cstr(local),
						quote_literal_cstr(sdp_partition_timezone));
	return psprintf("%s::%s", quote_literal_cstr(local),
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
					 errmsg("partition \"%s\" has no index attached to the replica identity index of \"%s\"",
							get_rel_name(partition), get_rel_name(parent))));
		stmts = lappend(stmts, psprintf("ALTER TABLE %s REPLICA IDENTITY USING INDEX %s",
										qpart, quote_identifier(part_index)));
	}

	foreach(lc, stmts)
		sdp_spi_exec((char *) lfirst(lc), 0, NULL, NULL, NULL);
}

/* Give the parent a default partition (<parent>_default) if it has none. */
void
sdp_partition_ensure_default(const SdpPartitionKey *key, SdpPartitionReport *report)
{
	char	   *name;

	if (OidIsValid(default_partition(key->relid)))
		return;
	name = sdp_partition_name(key->relname, "default");
	sdp_spi_exec(psprintf("CREATE TABLE %s PARTITION OF %s DEFAULT",
						  qualified(key->schema, name),
						  qualified(key->schema, key->relname)),
				 0, NULL, NULL, NULL);
	sdp_partition_inherit_properties(key->relid, default_partition(key->relid));
	if (report && report->log)
		sdp_maintenance_log(report->started, qualified(key->schema, name),
							"create default partition", "ok", NULL);
	report_row(report, qualified(key->schema, name), "DEFAULT", "DEFAULT", 0);
}

/*
 * Create one partition [from, to), first moving the rows the default
 * partition holds for that range out of the way and then back in through
 * the parent, all in the caller's transaction.  Returns the rows moved.
 */
static int64
create_partition(const SdpPartitionKey *key, const char *suffix,
				 const char *from, const char *to,
				 const char *from_text, const char *to_text,
				 SdpPartitionReport *report)
{
	char	   *name = sdp_partition_name(key->relname, suffix);
	char	   *qparent = qualified(key->schema, key->relname);
	char	   *qname = qualified(key->schema, name);
	char	   *lo = bound_expr(key, from);
	char	   *hi = bound_expr(key, to);
	Oid			def = default_partition(key->relid);
	int64		moved = 0;

	if (OidIsValid(def))
	{
		char	   *qdef = qualified(get_namespace_name(get_rel_namespace(def)),
									 get_rel_name(def));
		char	   *range = psprintf("%s >= %s AND %s < %s",
									 quote_identifier(key->column), lo,
									 quote_identifier(key->column), hi);
		char	   *cols = copyable_columns(key->relid);

		sdp_spi_exec(psprintf("SELECT 1 FROM ONLY %s WHERE %s LIMIT 1", qdef, range),
					 0, NULL, NULL, NULL);
		if (SPI_processed > 0)
		{
			sdp_spi_exec(psprintf("CREATE TEMP TABLE sdp_moving_rows ON COMMIT DROP AS "
								  "SELECT %s FROM ONLY %s WITH NO DATA", cols, qdef),
						 0, NULL, NULL, NULL);
			moved = sdp_spi_exec(psprintf("WITH moved AS (DELETE FROM ONLY %s WHERE %s "
										  "RETURNING %s) "
										  "INSERT INTO pg_temp.sdp_moving_rows SELECT * FROM moved",
										  qdef, range, cols),
								 0, NULL, NULL, NULL);
		}
		sdp_spi_exec(psprintf("CREATE TABLE %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)",
							  qname, qparent, lo, hi),
					 0, NULL, NULL, NULL);
		if (moved > 0)
		{
			sdp_spi_exec(psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE "
								  "SELECT %s FROM pg_temp.sdp_moving_rows",
								  qparent, cols, cols),
						 0, NULL, NULL, NULL);
			sdp_spi_exec("DROP TABLE pg_temp.sdp_moving_rows", 0, NULL, NULL, NULL);
		}
	}
	else
		sdp_spi_exec(psprintf("CREATE TABLE %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)",
							  qname, qparent, lo, hi),
					 0, NULL, NULL, NULL);
	sdp_partition_inherit_properties(key->relid,
									 DatumGetObjectId(DirectFunctionCall1(regclassin,
																		  CStringGetDatum(qname))));

	if (report && report->log)
		sdp_maintenance_log(report->started, qname, "create partition", "ok",
							psprintf("range [%s, %s)%s", from_text, to_text,
									 moved > 0 ? psprintf(", %lld rows moved from the default partition",
														  (long long) moved) : ""));
	report_row(report, qname, from_text, to_text, moved);
	return moved;
}

/*
 * Create every missing partition: from now (or start_at) to premake
 * intervals ahead (or up_to); for every period holding rows in the default
 * partition (or in data_source, a relation to scan, when given); and in the
 * gaps between existing partitions, but not beyond the premake window, so
 * that one stray far-future row adds one partition, not hundreds.  Returns
 * the number created.
 */
int
sdp_partition_create_missing(const SdpPartitionKey *key, Interval *interval,
							 int premake, const char *data_source, Datum start_at,
							 bool has_start, Datum up_to, bool has_up_to,
							 SdpPartitionReport *report)
{
	const SdpPartitionStep *step = sdp_partition_step(interval);
	Oid			def = default_partition(key->relid);
	char	   *tz = quote_literal_cstr(sdp_partition_timezone);
	char	   *col = (char *) quote_identifier(key->column);
	char	   *data_periods = "SELECT NULL::timestamp";
	char	   *sql;
	Oid			types[6] = {OIDOID, INTERVALOID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, REGTYPEOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	uint64		n;
	char	  **rows;
	int			created = 0;

	/* where rows lie: the table given (at registration), else the default */
	if (data_source != NULL || OidIsValid(def))
	{
		const char *source = data_source != NULL
			? data_source
			: psprintf("ONLY %s", qualified(get_namespace_name(get_rel_namespace(def)),
											get_rel_name(def)));
		char	   *local = key->typid == TIMESTAMPTZOID
			? psprintf("%s AT TIME ZONE %s", col, tz)
			: psprintf("%s::timestamp", col);

		data_periods = psprintf("SELECT DISTINCT date_trunc(%s, %s) FROM %s WHERE %s IS NOT NULL",
								quote_literal_cstr(step->trunc_unit), local, source, col);
	}

	values[0] = ObjectIdGetDatum(key->relid);
	values[1] = IntervalPGetDatum(interval);
	values[2] = Int32GetDatum(premake);
	values[3] = has_start ? start_at : (Datum) 0;
	nulls[3] = has_start ? ' ' : 'n';
	values[4] = has_up_to ? up_to : (Datum) 0;
	nulls[4] = has_up_to ? ' ' : 'n';
	values[5] = ObjectIdGetDatum(key->typid);

	/*
	 * The periods that need a partition, aligned on the step: the window
	 * from now (or start_at) to premake intervals ahead (or up_to); every
	 * period that holds rows; and the gaps between existing partitions.
	 * Those that an existing partition overlaps, even partly, are left out.
	 */
	sql = psprintf(
		"WITH now_local AS (SELECT date_trunc(%s, now() AT TIME ZONE %s) AS t), "
		"existing AS (SELECT from_local, to_local FROM sdp._range_partitions(%s, $1) "
		"             WHERE NOT is_default), "
		"wanted AS ("
		"  SELECT g FROM now_local n, generate_series("
		"         date_trunc(%s, LEAST(n.t, $4 AT TIME ZONE %s)), "
		"         GREATEST(n.t + $2 * $3, date_trunc(%s, $5 AT TIME ZONE %s)), $2) g "
		"  UNION "
		"  SELECT g FROM now_local n, "
		"         (SELECT min(from_local) AS lo, max(to_local) AS hi FROM existing "
		"           WHERE from_local > '-infinity' AND to_local < 'infinity') e, "
		"         generate_series(e.lo, e.hi, $2) g "
		"   WHERE g < e.hi AND g <= n.t + $2 * $3 "
		"  UNION "
		"  %s) "
		"SELECT to_char(g, %s), to_char(g, 'YYYY-MM-DD HH24:MI:SS'), "
		"       to_char(g + $2, 'YYYY-MM-DD HH24:MI:SS'), "
		"       sdp._bound_text(g, $6, %s), sdp._bound_text(g + $2, $6, %s) "
		"  FROM wanted w "
		" WHERE g IS NOT NULL AND NOT EXISTS (SELECT 1 FROM existing e "
		"                 WHERE e.from_local < w.g + $2 AND e.to_local > w.g) "
		" ORDER BY g",
		quote_literal_cstr(step->trunc_unit), tz, tz,
		quote_literal_cstr(step->trunc_unit), tz,
		quote_literal_cstr(step->trunc_unit), tz,
		data_periods,
		quote_literal_cstr(step->name_format), tz, tz);

	n = sdp_spi_exec(sql, 6, types, values, nulls);

	/* copy the plan out of SPI's result before running more statements */
	rows = sdp_spi_copy_rows(5);

	for (uint64 i = 0; i < n; i++)
	{
		char	  **r = &rows[i * 5];

		(void) create_partition(key, psprintf("p%s", r[0]), r[1], r[2],
								r[3], r[4], report);
		created++;
	}
	return created;
}

/*
 * Detach or drop the partitions whose whole range ended before
 * now() - retention; report every partition with what was (or would be)
 * done to it.  Returns the number of partitions removed.
 */
static int
prune(const SdpPartitionKey *key, PartitionConfig *cfg, bool dry_run,
	  SdpPartitionReport *report)
{
	Oid			types[2] = {OIDOID, INTERVALOID};
	Datum		values[2];
	char	   *sql;
	uint64		n;
	char	  **rows;
	int			removed = 0;
	bool		drop = strcmp(cfg->mode, "drop") == 0;

	if (!cfg->has_retention)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no retention is configured for table %s", key->relname),
				 errhint("Set it with sdp.manage_partitions(..., retention => '12 months') "
						 "or in sdp.partition_config.")));

	values[0] = ObjectIdGetDatum(key->relid);
	values[1] = IntervalPGetDatum(&cfg->retention);
	sql = psprintf("SELECT p.partition::text, p.range_from, p.range_to, "
				   "       greatest(c.reltuples, 0)::bigint::text, "
				   "       p.to_local <= (now() AT TIME ZONE %s) - $2, "
				   "       n.nspname, c.relname "
				   "  FROM sdp._range_partitions(%s, $1) p "
				   "  JOIN pg_catalog.pg_class c ON c.oid = p.partition "
				   "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
				   " WHERE NOT p.is_default "
				   " ORDER BY p.from_local",
				   quote_literal_cstr(sdp_partition_timezone),
				   quote_literal_cstr(sdp_partition_timezone));
	n = sdp_spi_exec(sql, 2, types, values, NULL);
	rows = sdp_spi_copy_rows(7);

	for (uint64 i = 0; i < n; i++)
	{
		char	  **r = &rows[i * 7];
		bool		expired = r[4][0] == 't';
		const char *action;

		if (!expired)
			action = "keep";
		else if (dry_run)
			action = drop ? "would drop" : "would detach";
		else
		{
			char	   *qchild = qualified(r[5], r[6]);

			if (drop)
				sdp_spi_exec(psprintf("DROP TABLE %s", qchild), 0, NULL, NULL, NULL);
			else
				sdp_spi_exec(psprintf("ALTER TABLE %s DETACH PARTITION %s",
									  qualified(key->schema, key->relname), qchild),
							 0, NULL, NULL, NULL);
			action = drop ? "dropped" : "detached";
			removed++;
			if (report && report->log)
				sdp_maintenance_log(report->started, r[0],
									drop ? "drop partition" : "detach partition", "ok",
									psprintf("range [%s, %s) ended before now() - retention",
											 r[1], r[2]));
		}

		if (report && report->rsinfo)
		{
			Datum		out[5];
			bool		outnulls[5] = {false, false, false, false, false};

			out[0] = CStringGetTextDatum(r[0]);
			out[1] = CStringGetTextDatum(r[1]);
			out[2] = CStringGetTextDatum(r[2]);
			out[3] = Int64GetDatum(strtoll(r[3], NULL, 10));
			out[4] = CStringGetTextDatum(action);
			tuplestore_putvalues(report->rsinfo->setResult,
								 report->rsinfo->setDesc, out, outnulls);
		}
	}
	return removed;
}

/*
 * sdp.manage_partitions(parent, partition_interval, premake, retention,
 *                       retention_mode, start_at)
 */
Datum
sdp_manage_partitions(PG_FUNCTION_ARGS)
{
	Oid			parent;
	Interval   *interval;
	int			premake;
	Interval   *retention;
	char	   *mode;
	SdpPartitionKey key;
	SdpPartitionReport report;

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

	InitMaterializedSRF(fcinfo, 0);
	report.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	report.log = true;
	report.started = GetCurrentTimestamp();

	SPI_connect();
	sdp_partition_lock(parent);
	sdp_partition_save_config(parent, interval, premake, retention, mode);
	sdp_partition_ensure_default(&key, &report);
	sdp_partition_create_missing(&key, interval, premake,
								 qualified(key.schema, key.relname),
								 PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5),
								 !PG_ARGISNULL(5), (Datum) 0, false, &report);
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
	require_config(parent, &cfg);
	sdp_partition_lock(parent);
	sdp_partition_create_missing(&key, &cfg.interval, cfg.premake, NULL,
								 (Datum) 0, false,
								 PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
								 !PG_ARGISNULL(1), &report);
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
	require_config(parent, &cfg);
	sdp_partition_check_retention(cfg.has_retention ? &cfg.retention : NULL, cfg.mode);
	sdp_partition_lock(parent);
	prune(&key, &cfg, dry_run, &report);
	SPI_finish();
	return (Datum) 0;
}

static void
maintenance_row(ReturnSetInfo *rsinfo, const char *parent, const char *action,
				const char *status, const char *message)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, message == NULL};

	values[0] = CStringGetTextDatum(parent);
	values[1] = CStringGetTextDatum(action);
	values[2] = CStringGetTextDatum(status);
	values[3] = message ? CStringGetTextDatum(message) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* One parent's maintenance; runs inside its own subtransaction. */
static void
maintain_parent(Oid parent, const char *name, TimestampTz started,
				ReturnSetInfo *rsinfo)
{
	PartitionConfig cfg;
	SdpPartitionKey key;
	SdpPartitionReport report = {NULL, true, started};
	int			created;
	int			removed = 0;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parent)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with OID %u no longer exists", parent),
				 errhint("Remove its row from sdp.partition_config.")));
	if (!try_partition_lock(parent))
	{
		sdp_maintenance_log(started, name, "maintenance", "skipped",
							"another maintenance run holds this table");
		maintenance_row(rsinfo, name, "maintenance", "skipped",
						"another maintenance run holds this table");
		return;
	}
	require_config(parent, &cfg);
	(void) sdp_partition_step(&cfg.interval);
	sdp_partition_check_premake(cfg.premake);
	sdp_partition_check_retention(cfg.has_retention ? &cfg.retention : NULL, cfg.mode);
	sdp_partition_key(parent, &key);

	created = sdp_partition_create_missing(&key, &cfg.interval, cfg.premake, NULL,
										   (Datum) 0, false, (Datum) 0, false,
										   &report);
	maintenance_row(rsinfo, name, "create partitions", "ok",
					psprintf("%d created", created));
	if (cfg.has_retention)
	{
		removed = prune(&key, &cfg, false, &report);
		maintenance_row(rsinfo, name, "retention", "ok",
						psprintf("%d %s", removed,
								 strcmp(cfg.mode, "drop") == 0 ? "dropped" : "detached"));
	}
}

typedef struct MaintainParentArgs
{
	Oid			parent;
	const char *name;
	TimestampTz started;
	ReturnSetInfo *rsinfo;
} MaintainParentArgs;

static void
maintain_parent_isolated(void *arg)
{
	MaintainParentArgs *a = arg;

	maintain_parent(a->parent, a->name, a->started, a->rsinfo);
}

/* sdp.run_partition_maintenance(): every configured parent, each isolated */
Datum
sdp_run_partition_maintenance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	MemoryContext callercxt = CurrentMemoryContext;
	uint64		n;
	Oid		   *parents;
	char	  **names;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	SPI_connect();
	n = sdp_spi_exec("SELECT parent::oid, parent::text FROM sdp.partition_config "
					 "ORDER BY parent::text", 0, NULL, NULL, NULL);
	parents = palloc(sizeof(Oid) * Max(n, 1));
	names = palloc(sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		parents[i] = DatumGetObjectId(sdp_spi_datum(i, 1, &isnull));
		names[i] = pstrdup(sdp_spi_value(i, 2));
	}

	for (uint64 i = 0; i < n; i++)
	{
		MaintainParentArgs args = {parents[i], names[i], GetCurrentTimestamp(), rsinfo};
		ErrorData  *edata = sdp_run_in_subtransaction(maintain_parent_isolated, &args);

		if (edata == NULL)
			continue;
		sdp_maintenance_log(args.started, names[i], "maintenance", "error",
							edata->message);
		maintenance_row(rsinfo, names[i], "maintenance", "error", edata->message);
		ereport(WARNING,
				(errmsg("smart_dairy_perf: partition maintenance of %s failed: %s",
						names[i], edata->message)));
		FreeErrorData(edata);
	}

	SPI_finish();
	MemoryContextSwitchTo(callercxt);
	return (Datum) 0;
}
