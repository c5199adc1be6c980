/*-------------------------------------------------------------------------
 *
 * matview_manager.c
 *	  Materialized-view refresh manager: sdp.register_matview(),
 *	  sdp.unregister_matview(), sdp.refresh_matview() and
 *	  sdp.refresh_matviews().
 *
 *	  Modes: 'auto' refreshes CONCURRENTLY (readers are not blocked) when
 *	  the view is populated and has a unique index PostgreSQL can use for
 *	  it, plainly otherwise; 'always' refuses to fall back to a plain
 *	  refresh (which locks readers out); 'never' is always plain.
 *
 *	  sdp.refresh_matviews() refreshes what is due in dependency order (the
 *	  catalog queries in the 1.1 script compute it) and skips a view when
 *	  nothing underneath changed since its last refresh: before each
 *	  refresh a fingerprint of the base relations (file nodes and
 *	  modification counters, sdp._matview_signature) is taken and kept with
 *	  the configuration; equal fingerprints mean the refresh would rebuild
 *	  the same rows.  Each view is refreshed in its own subtransaction, so
 *	  one failing view is recorded in sdp.matview_refresh_history and
 *	  sdp.maintenance_log while the others still run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "access/htup_details.h"
#include "catalog/pg_rewrite.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "maintenance_log.h"
#include "run_as_owner.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_register_matview);
PG_FUNCTION_INFO_V1(sdp_unregister_matview);
PG_FUNCTION_INFO_V1(sdp_refresh_matview);
PG_FUNCTION_INFO_V1(sdp_refresh_matviews);
PG_FUNCTION_INFO_V1(sdp_time_dependent);

typedef struct RefreshResult
{
	bool		concurrently;
	int64		rows;
	double		duration_ms;
} RefreshResult;

static char *
matview_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* The relation exists, is a materialized view, and the caller owns it. */
static void
check_matview(Oid relid)
{
	char		relkind = get_rel_relkind(relid);

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a materialized view", get_rel_name(relid)),
				 errhint("Only materialized views are refreshed; a plain view needs no refresh.")));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_MATVIEW, get_rel_name(relid));
}

static const char *
check_mode(const char *mode)
{
	if (strcmp(mode, "auto") != 0 && strcmp(mode, "always") != 0 &&
		strcmp(mode, "never") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown concurrently mode \"%s\"", mode),
				 errhint("Use 'auto' (concurrently when possible), 'always' or 'never'.")));
	return mode;
}

static bool
sql_bool(const char *sql, Oid relid)
{
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *v = sdp_spi_scalar_text(sql, 1, types, values);

	return v != NULL && strcmp(v, "t") == 0;
}

static void
require_concurrent_possible(Oid relid)
{
	if (!sql_bool("SELECT sdp._matview_unique_index($1)", relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("materialized view \"%s\" cannot be refreshed concurrently",
						get_rel_name(relid)),
				 errdetail("It has no valid unique index without a WHERE clause or expressions."),
				 errhint("Create one, e.g. CREATE UNIQUE INDEX ON %s (<key columns>), or use concurrently => 'auto'.",
						 matview_name(relid))));
	if (!sql_bool("SELECT relispopulated FROM pg_catalog.pg_class WHERE oid = $1", relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("materialized view \"%s\" cannot be refreshed concurrently",
						get_rel_name(relid)),
				 errdetail("It has never been populated."),
				 errhint("Populate it once with REFRESH MATERIALIZED VIEW %s, or use concurrently => 'auto'.",
						 matview_name(relid))));
}

/* The registered mode, or NULL when the view is not registered. */
static char *
registered_mode(Oid relid)
{
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return sdp_spi_scalar_text("SELECT concurrent_mode FROM sdp.matview_config WHERE matview = $1",
							   1, types, values);
}

static void
record_history(Oid relid, const char *name, TimestampTz started, double ms,
			   bool concurrently, int64 rows, int64 size, const char *error)
{
	Oid			types[8] = {TEXTOID, OIDOID, TIMESTAMPTZOID, FLOAT8OID, TEXTOID,
	INT8OID, INT8OID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', error ? 'n' : ' ',
	error ? 'n' : ' ', error ? ' ' : 'n'};

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = TimestampTzGetDatum(started);
	values[3] = Float8GetDatum(ms);
	values[4] = CStringGetTextDatum(concurrently ? "concurrently" : "plain");
	values[5] = Int64GetDatum(rows);
	values[6] = Int64GetDatum(size);
	values[7] = error ? CStringGetTextDatum(error) : (Datum) 0;
	sdp_spi_exec("INSERT INTO sdp.matview_refresh_history "
				 "(matview, matview_oid, started, duration_ms, mode, rows_after, size_bytes, status, error) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, "
				 "CASE WHEN $8 IS NULL THEN 'ok' ELSE 'error' END, $8)",
				 8, types, values, nulls);
}

static double
elapsed_ms(TimestampTz since)
{
	return (double) (GetCurrentTimestamp() - since) / 1000.0;
}

/*
 * Refresh one registered view in the caller's (sub)transaction and record
 * it; errors propagate.  The base fingerprint is taken before the refresh,
 * so a change committed while it runs makes the next run refresh again.
 */
static void
refresh_one(Oid relid, const char *mode, RefreshResult *result)
{
	TimestampTz started = GetCurrentTimestamp();
	Oid			types[3] = {REGCLASSOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *name;
	char	   *signature;
	bool		isnull;
	int64		size;

	check_matview(relid);
	name = matview_name(relid);
	if (strcmp(mode, "always") == 0)
		require_concurrent_possible(relid);
	result->concurrently = strcmp(mode, "never") != 0 &&
		(strcmp(mode, "always") == 0 ||
		 sql_bool("SELECT sdp._matview_concurrent_possible($1)", relid));

	values[0] = ObjectIdGetDatum(relid);
	signature = sdp_spi_scalar_text("SELECT sdp._matview_signature($1)", 1, types, values);
	signature = signature ? pstrdup(signature) : NULL;

	sdp_spi_exec(psprintf("REFRESH MATERIALIZED VIEW %s%s",
						  result->concurrently ? "CONCURRENTLY " : "", name),
				 0, NULL, NULL, NULL);

	/* counted here, as the owner (REFRESH reports no row count) */
	sdp_spi_exec_as_owner(sdp_relation_owner(relid),
						  psprintf("SELECT pg_catalog.count(*), pg_catalog.pg_total_relation_size(%s) FROM %s",
								   quote_literal_cstr(name), name));
	result->rows = DatumGetInt64(sdp_spi_datum(0, 1, &isnull));
	size = DatumGetInt64(sdp_spi_datum(0, 2, &isnull));
	result->duration_ms = elapsed_ms(started);

	values[1] = signature ? CStringGetTextDatum(signature) : (Datum) 0;
	nulls[1] = signature ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(started);
	sdp_spi_exec("UPDATE sdp.matview_config SET last_refresh = $3, base_signature = $2 "
				 "WHERE matview = $1", 3, types, values, nulls);
	record_history(relid, name, started, result->duration_ms,
				   result->concurrently, result->rows, size, NULL);
}

/* sdp.register_matview(matview, refresh_every, concurrently) */
Datum
sdp_register_matview(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Interval   *every;
	Interval	zero = {0, 0, 0};
	const char *mode;
	Oid			types[3] = {REGCLASSOID, INTERVALOID, TEXTOID};
	Datum		values[3];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("matview, refresh_every and concurrently must not be NULL")));
	every = PG_GETARG_INTERVAL_P(1);
	mode = check_mode(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	check_matview(relid);
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(every),
										  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refresh_every must be a positive interval"),
				 errhint("Give how often the view should be refreshed, e.g. '15 minutes' or '1 day'.")));

	SPI_connect();
	if (strcmp(mode, "always") == 0 &&
		!sql_bool("SELECT sdp._matview_unique_index($1)", relid))
		require_concurrent_possible(relid);
	values[0] = ObjectIdGetDatum(relid);
	values[1] = IntervalPGetDatum(every);
	values[2] = CStringGetTextDatum(mode);
	sdp_spi_exec("INSERT INTO sdp.matview_config (matview, refresh_every, concurrent_mode) "
				 "VALUES ($1, $2, $3) ON CONFLICT (matview) DO UPDATE SET "
				 "refresh_every = EXCLUDED.refresh_every, concurrent_mode = EXCLUDED.concurrent_mode",
				 3, types, values, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/* sdp.unregister_matview(matview): its history stays */
Datum
sdp_unregister_matview(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	/* a registration left by a dropped view can always be removed */
	if (get_rel_relkind(relid) != '\0')
		check_matview(relid);
	SPI_connect();
	if (sdp_spi_exec("DELETE FROM sdp.matview_config WHERE matview = $1",
					 1, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("materialized view \"%s\" is not registered",
						get_rel_name(relid) ? get_rel_name(relid) : psprintf("%u", relid)),
				 errhint("sdp.matviews lists the registered views.")));
	SPI_finish();
	PG_RETURN_VOID();
}

static void
require_registered(Oid relid, char **mode)
{
	*mode = registered_mode(relid);
	if (*mode == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("materialized view \"%s\" is not registered", get_rel_name(relid)),
				 errhint("Register it with sdp.register_matview('%s', '<interval>').",
						 matview_name(relid))));
	*mode = pstrdup(*mode);
}

/* sdp.refresh_matview(matview): now, whether due or not; errors propagate */
Datum
sdp_refresh_matview(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo;
	RefreshResult result;
	char	   *mode;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	check_matview(relid);

	SPI_connect();
	require_registered(relid, &mode);
	refresh_one(relid, mode, &result);
	SPI_finish();

	values[0] = CStringGetTextDatum(result.concurrently ? "concurrently" : "plain");
	values[1] = Int64GetDatum(result.rows);
	values[2] = Float8GetDatum(result.duration_ms);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

typedef struct RefreshArgs
{
	Oid			relid;
	const char *mode;
	RefreshResult result;
} RefreshArgs;

static void
refresh_one_isolated(void *arg)
{
	RefreshArgs *a = arg;

	refresh_one(a->relid, a->mode, &a->result);
}

static void
refresh_row(ReturnSetInfo *rsinfo, const char *name, const char *action,
			const RefreshResult *result, const char *message)
{
	Datum		values[6];
	bool		nulls[6] = {false, false, result == NULL, result == NULL,
	result == NULL, message == NULL};

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(action);
	if (result)
	{
		values[2] = CStringGetTextDatum(result->concurrently ? "concurrently" : "plain");
		values[3] = Int64GetDatum(result->rows);
		values[4] = Float8GetDatum(result->duration_ms);
	}
	values[5] = message ? CStringGetTextDatum(message) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Registrations whose view was dropped are removed, with a log line. */
static void
forget_dropped_views(ReturnSetInfo *rsinfo)
{
	uint64		n = sdp_spi_exec("DELETE FROM sdp.matview_config m WHERE NOT EXISTS "
								 "(SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = m.matview) "
								 "RETURNING m.matview::oid::text",
								 0, NULL, NULL, NULL);
	char	  **oids = sdp_spi_copy_rows(1);

	for (uint64 i = 0; i < n; i++)
	{
		char	   *object = psprintf("materialized view with OID %s", oids[i]);

		sdp_maintenance_log(GetCurrentTimestamp(), object, "unregister", "ok",
							"the view was dropped; its registration is removed");
		refresh_row(rsinfo, object, "unregistered", NULL, "the view was dropped");
	}
}

/*
 * sdp.refresh_matviews(only_due): registered views in dependency order.
 * With only_due, views not due yet or whose base is unchanged are skipped;
 * without it every registered view is refreshed.
 */
Datum
sdp_refresh_matviews(PG_FUNCTION_ARGS)
{
	bool		only_due = PG_ARGISNULL(0) ? true : PG_GETARG_BOOL(0);
	ReturnSetInfo *rsinfo;
	MemoryContext callercxt = CurrentMemoryContext;
	uint64		n;
	char	  **rows;
	int			nestlevel;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	SPI_connect();
	nestlevel = sdp_restrict_search_path();
	forget_dropped_views(rsinfo);
	n = sdp_spi_exec("SELECT o.matview::oid, pg_catalog.format('%I.%I', ns.nspname, c.relname), "
					 "m.concurrent_mode, "
					 "m.last_refresh IS NULL OR m.last_refresh + m.refresh_every <= pg_catalog.now(), "
					 "m.configured_by::oid "
					 "FROM sdp._matview_refresh_order() o "
					 "JOIN sdp.matview_config m ON m.matview = o.matview "
					 "JOIN pg_catalog.pg_class c ON c.oid = o.matview "
					 "JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace "
					 "ORDER BY o.depth, o.matview::text",
					 0, NULL, NULL, NULL);
	rows = sdp_spi_copy_rows(5);

	for (uint64 i = 0; i < n; i++)
	{
		char	  **row = &rows[i * 5];
		RefreshArgs args;
		TimestampTz started = GetCurrentTimestamp();
		ErrorData  *edata;

		if (only_due && strcmp(row[3], "t") != 0)
		{
			refresh_row(rsinfo, row[1], "not due", NULL, NULL);
			continue;
		}
		args.relid = DatumGetObjectId(DirectFunctionCall1(oidin, CStringGetDatum(row[0])));
		args.mode = row[2];

		/* the worker refreshes for the view's owner: the owner must have asked */
		if (!sdp_config_writer_may_act(row[4] ? DatumGetObjectId(DirectFunctionCall1(oidin, CStringGetDatum(row[4]))) : InvalidOid,
									   args.relid))
		{
			const char *msg = "its registration was not written by its owner or a role with the owner's privileges";

			sdp_maintenance_log_rel(args.relid, started, row[1], "refresh", "skipped", msg);
			refresh_row(rsinfo, row[1], "skipped", NULL, msg);
			continue;
		}

		/*
		 * Compared now, not at the start of the run: a view refreshed
		 * earlier in this run has a new file node or new counters, so the
		 * views built on it are refreshed too.
		 */
		if (only_due &&
			sql_bool("SELECT c.relispopulated AND m.base_signature IS NOT NULL "
					 "AND m.base_signature = sdp._matview_signature(m.matview) "
					 "FROM sdp.matview_config m JOIN pg_catalog.pg_class c ON c.oid = m.matview "
					 "WHERE m.matview = $1", args.relid))
		{
			refresh_row(rsinfo, row[1], "unchanged", NULL,
						"no base relation changed since the last refresh");
			continue;
		}
		edata = sdp_run_in_subtransaction(refresh_one_isolated, &args);
		if (edata == NULL)
		{
			sdp_maintenance_log_rel(args.relid, started, row[1], "refresh", "ok",
								psprintf("%s, %lld rows, %.1f ms",
										 args.result.concurrently ? "concurrently" : "plain",
										 (long long) args.result.rows,
										 args.result.duration_ms));
			refresh_row(rsinfo, row[1], "refreshed", &args.result, NULL);
			continue;
		}

		record_history(args.relid, row[1], started, elapsed_ms(started),
					   strcmp(row[2], "never") != 0 &&
					   sql_bool("SELECT sdp._matview_concurrent_possible($1)", args.relid),
					   0, 0, edata->message);
		sdp_maintenance_log_failure(args.relid, started, row[1], "refresh", "error",
									NULL, edata->message,
									"refresh of materialized view \"%s\" failed", row[1]);
		refresh_row(rsinfo, row[1], "error", NULL, edata->message);
		FreeErrorData(edata);
	}

	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	MemoryContextSwitchTo(callercxt);
	return (Datum) 0;
}

/*
 * Does a view's query (looking through the plain views it reads) call
 * anything that is not immutable: now(), current_date, random(), a
 * sequence?  Then its result changes with time alone, and unchanged base
 * relations do not make a refresh unnecessary.  Reads the rules from the
 * catalog cache; takes no relation lock.  *visited holds the views
 * already looked at (a view's rule lists the view itself as OLD and NEW).
 */
static bool rule_time_dependent(Oid relid, List **visited);

static bool
query_time_dependent_walker(Node *node, List **visited)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		ListCell   *lc;

		foreach(lc, query->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);

			if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_VIEW &&
				rule_time_dependent(rte->relid, visited))
				return true;
		}
		return query_tree_walker(query, query_time_dependent_walker, visited, 0);
	}
	return expression_tree_walker(node, query_time_dependent_walker, visited);
}

static bool
rule_time_dependent(Oid relid, List **visited)
{
	HeapTuple	tuple;
	bool		isnull;
	Datum		action;
	List	   *queries;
	ListCell   *lc;

	if (list_member_oid(*visited, relid))
		return false;
	*visited = lappend_oid(*visited, relid);
	tuple = SearchSysCache2(RULERELNAME, ObjectIdGetDatum(relid),
							CStringGetDatum("_RETURN"));
	if (!HeapTupleIsValid(tuple))
		return false;
	action = SysCacheGetAttr(RULERELNAME, tuple, Anum_pg_rewrite_ev_action, &isnull);
	queries = isnull ? NIL : (List *) stringToNode(TextDatumGetCString(action));
	ReleaseSysCache(tuple);
	foreach(lc, queries)
	{
		Query	   *query = lfirst(lc);

		if (contain_mutable_functions((Node *) query) ||
			query_time_dependent_walker((Node *) query, visited))
			return true;
	}
	return false;
}

/* sdp._time_dependent(regclass): see rule_time_dependent() */
Datum
sdp_time_dependent(PG_FUNCTION_ARGS)
{
	List	   *visited = NIL;

	PG_RETURN_BOOL(rule_time_dependent(PG_GETARG_OID(0), &visited));
}
