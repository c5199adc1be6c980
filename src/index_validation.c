/*-------------------------------------------------------------------------
 *
 * index_validation.c
 *	  sdp.validate_index(index): measured proof, before an index is kept
 *	  or dropped.  The profiled statements of this database whose plan
 *	  uses the index are run again from their samples (sdp.query_samples:
 *	  real constants) under EXPLAIN ANALYZE, alternately with the index
 *	  visible and hidden (index_hiding.c), and the measured execution
 *	  times are returned side by side: an index the planner prices as a
 *	  win can measure slower (a range scan over many rows), one that looks
 *	  unused can be what a rare heavy statement needs.
 *
 *	  A partitioned index is measured through its partitions' indexes,
 *	  which are what plans scan (and what hiding it hides).
 *
 *	  Safety: only a plain SELECT is run (no data-modifying CTE, no FOR
 *	  UPDATE/SHARE); writes that use the index are only planned, and
 *	  counted in a NOTICE; each run is a subtransaction that is always rolled
 *	  back, with transaction_read_only on (so a function the SELECT calls
 *	  cannot write either), lock_timeout 1s, and its own timeout
 *	  (timeout_ms, a timer of this module: the session's statement_timeout
 *	  only covers the whole call; a statement that catches the cancel and
 *	  goes on counts as timed out, though it keeps the call waiting until
 *	  it ends).  Each runs as the role that spent most
 *	  time on the statement, security-restricted, under the search_path it
 *	  ran with, as the index advisor plans it; a superuser's statement as
 *	  the one owner of the relations it reads (never with superuser
 *	  rights: their views and index expressions are that owner's code),
 *	  and not at all over several owners' relations.  A caller who is not
 *	  a superuser runs only statements of roles whose privileges it has.
 *	  An index the session hid (sdp.hide_index()) is visible again for the
 *	  measurement, and hidden again after it.  The profiler is off for
 *	  these runs.  A statement whose sample has parameters ($n, sent with
 *	  bind parameters) cannot run and is counted in the NOTICE.
 *
 *	  Connected to SPI for the whole call; everything in its memory
 *	  contexts.  Takes only the locks the statements take (AccessShare),
 *	  released with each run's subtransaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "rewrite/rewriteHandler.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "hypothetical_index.h"
#include "index_hiding.h"
#include "profiler_store.h"
#include "run_as_owner.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_validate_index);

#define VALIDATE_MAX_STATEMENTS	200
#define VALIDATE_MAX_RUNS		10
/* a difference under 10 % is not one */
#define VALIDATE_SAME_RATIO		1.10

typedef struct Statement
{
	int64		queryid;
	Oid			userid;
	char	   *search_path;
	char	   *sample;
	int64		calls;
	double		total_ms;
	bool		uses;			/* its plan uses the index */
	bool		writes;			/* a write or a locking read: never run */
	bool		has_params;
	Oid			run_as;			/* the role it is planned and run as */
	bool		several_owners; /* a superuser's, over several owners' tables */
	bool		not_permitted;	/* run_as is a role the caller may not act as */
} Statement;

typedef struct PlanArgs
{
	Statement  *s;
	List	   *members;		/* the index, or its partitions' indexes */
} PlanArgs;

static TimeoutId validation_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t validation_timed_out = false;

static void
validation_timeout_handler(void)
{
	validation_timed_out = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
}

/* The statements of this database with a sample, heaviest first.  Caller connected to SPI. */
static Statement *
read_statements(int *n, const char *default_path)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(VALIDATE_MAX_STATEMENTS)};
	uint64		nrows;
	Statement  *stmts;

	nrows = sdp_spi_exec("SELECT q.queryid, "
						 "pg_catalog.sum(q.calls)::pg_catalog.int8 AS calls, "
						 "pg_catalog.sum(q.total_exec_time)::pg_catalog.float8 AS total_ms, "
						 "(pg_catalog.array_agg(q.userid ORDER BY " HEAVIEST_ROW_FIRST "))[1] AS userid, "
						 "(pg_catalog.array_agg(s.search_path ORDER BY " HEAVIEST_ROW_FIRST "))[1] AS search_path, "
						 "(pg_catalog.array_agg(s.sample_query ORDER BY " HEAVIEST_ROW_FIRST "))[1] AS sample "
						 "FROM sdp.query_stats q "
						 "JOIN sdp.query_samples s ON " SAMPLE_OF_STATS_ROW
						 "WHERE " WORKLOAD_OF_THIS_DATABASE
						 "AND s.sample_query IS NOT NULL "
						 "AND s.sample_query OPERATOR(pg_catalog.<>) '<insufficient privilege>' "
						 "AND s.sample_query OPERATOR(pg_catalog.~*) '^\\s*(select|with|table|values|update|delete|insert)\\M' "
						 "AND q.query OPERATOR(pg_catalog.!~) '\\msdp\\.' "
						 "GROUP BY q.queryid "
						 "ORDER BY pg_catalog.sum(q.total_exec_time) DESC, q.queryid LIMIT $1",
						 1, types, values, NULL);
	stmts = palloc0(sizeof(Statement) * (nrows + 1));
	for (uint64 i = 0; i < nrows; i++)
	{
		Statement  *s = &stmts[i];
		bool		isnull;
		Datum		userid = sdp_spi_get(i, "userid", OIDOID, &isnull);
		char	   *path = sdp_spi_get_text(i, "search_path");

		s->queryid = sdp_spi_int64(i, "queryid");
		s->userid = isnull ? InvalidOid : DatumGetObjectId(userid);
		s->search_path = path ? path : pstrdup(default_path);
		s->sample = sdp_spi_get_text(i, "sample");
		s->calls = sdp_spi_int64(i, "calls");
		s->total_ms = DatumGetFloat8(sdp_spi_get(i, "total_ms", FLOAT8OID, &isnull));
	}
	*n = (int) nrows;
	return stmts;
}

/*
 * Plan a sample as the role it would run as (s->run_as, unset when none
 * may); does the plan use the index?  In a subtransaction.
 */
static void
plan_sample(void *arg)
{
	PlanArgs   *a = arg;
	Statement  *s = a->s;
	List	   *raw;
	Query	   *query;
	List	   *rewritten = NIL;
	PlannedStmt *stmt;
	SdpSavedUser saved;
	ListCell   *lc;

	if (!OidIsValid(s->userid) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(s->userid)))
		return;
	raw = pg_parse_query(s->sample);
	if (list_length(raw) != 1)
		return;
	/* an error needs no cleanup: the subtransaction's abort restores the user */
	sdp_become_role(s->userid, s->search_path, &saved);
	query = parse_analyze_fixedparams(linitial(raw), s->sample, NULL, 0, NULL);
	if (query->utilityStmt == NULL)
	{
		/* only a plain read is ever run; the others are planned, to be counted */
		s->writes = query->commandType != CMD_SELECT || query->hasModifyingCTE ||
			query->rowMarks != NIL;
		rewritten = QueryRewrite(query);
		if (list_length(rewritten) == 1)
		{
			Oid			owner;

			/* a superuser's as the one owner of what it reads, or not at all */
			if (!superuser_arg(s->userid))
				s->run_as = s->userid;
			else if (sdp_query_single_owner(linitial(rewritten), &owner))
				s->run_as = owner;
			else
				s->several_owners = true;
		}
	}
	sdp_restore_user(&saved);
	if (!OidIsValid(s->run_as))
		return;
	if (!has_privs_of_role(GetUserId(), s->run_as))
	{
		s->not_permitted = true;
		return;
	}
	/* as EXPLAIN through SPI plans it: parallel plans allowed */
	sdp_become_role(s->run_as, s->search_path, &saved);
	stmt = pg_plan_query(linitial(rewritten), s->sample, CURSOR_OPT_PARALLEL_OK, NULL);
	foreach(lc, a->members)
		s->uses = s->uses || sdp_plan_uses_index(stmt, lfirst_oid(lc));
	sdp_restore_user(&saved);
}

/* Execution time (ms) in EXPLAIN's JSON, or -1. */
static double
execution_time(const char *json)
{
	const char *p = strstr(json, "\"Execution Time\": ");

	return p ? strtod(p + strlen("\"Execution Time\": "), NULL) : -1;
}

/*
 * Run s once under EXPLAIN ANALYZE with the index hidden or not, in a
 * subtransaction that is rolled back.  Returns the execution time in ms,
 * -1 with *error set when it failed, -2 when it timed out.  *used says
 * whether the plan scanned the index (by name).  Caller connected to SPI.
 */
static double
run_once(Statement *s, Oid indexoid, List *names, bool hide,
		 int timeout_ms, bool *used, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *sql = psprintf("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s", s->sample);
	char	   *json = NULL;
	bool		hidden_here = false;
	double		ms;
	ListCell   *lc;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		SdpSavedUser saved;

		if (hide)
			hidden_here = sdp_index_hide(indexoid);
		sdp_become_role(s->run_as, s->search_path, &saved);
		(void) set_config_option("transaction_read_only", "on", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("lock_timeout", "1000", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		validation_timed_out = false;
		enable_timeout_after(validation_timeout, timeout_ms);
		if (SPI_execute(sql, false, 0) == SPI_OK_UTILITY && SPI_processed > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			json = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			MemoryContextSwitchTo(old);
		}
		disable_timeout(validation_timeout, false);
		sdp_restore_user(&saved);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(validation_timeout, false);
		if (hidden_here)
			(void) sdp_index_unhide(indexoid);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && validation_timed_out)
		{
			validation_timed_out = false;
			QueryCancelPending = false;
			return -2;
		}
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);	/* the user's cancel, or their statement_timeout */
		*error = edata->message;
		return -1;
	}
	PG_END_TRY();
	if (hidden_here)
		(void) sdp_index_unhide(indexoid);
	/* nothing a run did is kept */
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	/*
	 * The timeout fired but the statement went on: it caught the cancel
	 * (PL/pgSQL's EXCEPTION WHEN query_canceled), or the timer fired after
	 * it ended.  Its time is not a measurement, and the pending cancel is
	 * ours, not the caller's.
	 */
	if (validation_timed_out)
	{
		validation_timed_out = false;
		QueryCancelPending = false;
		return -2;
	}
	if (json == NULL)
	{
		*error = "EXPLAIN returned no plan";
		return -1;
	}
	*used = false;
	foreach(lc, names)
		*used = *used || strstr(json, psprintf("\"Index Name\": \"%s\"",
											   (char *) lfirst(lc))) != NULL;
	ms = execution_time(json);
	if (ms < 0)
		*error = "EXPLAIN gave no execution time";
	return ms;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Measure one statement and emit its row. */
static void
measure(ReturnSetInfo *rsinfo, Statement *s, Oid indexoid, List *names,
		int runs, int timeout_ms)
{
	double		with[VALIDATE_MAX_RUNS];
	double		without[VALIDATE_MAX_RUNS];
	int			nwith = 0,
				nwithout = 0;
	bool		used_always = true;
	bool		timed_out_with = false,
				timed_out_without = false;
	char	   *error = NULL;
	Datum		values[10];
	bool		nulls[10] = {0};
	double		ms_with = 0,
				ms_without = 0;
	const char *verdict;

	for (int r = 0; r < runs && error == NULL; r++)
	{
		/* alternate, so that a cache warmed by one run helps both */
		for (int hide = 0; hide <= 1 && error == NULL; hide++)
		{
			bool		used = false;
			double		ms;

			CHECK_FOR_INTERRUPTS();
			ms = run_once(s, indexoid, names, hide, timeout_ms, &used, &error);
			if (ms == -2)
			{
				if (hide)
					timed_out_without = true;
				else
					timed_out_with = true;
			}
			else if (ms >= 0 && hide)
				without[nwithout++] = ms;
			else if (ms >= 0)
			{
				with[nwith++] = ms;
				used_always = used_always && used;
			}
		}
		/* a timed-out side is not run again */
		if (timed_out_with || timed_out_without)
			break;
	}

	if (error != NULL)
		verdict = "could not run";
	else if (timed_out_with && timed_out_without)
		verdict = "timed out both ways";
	else if (timed_out_without)
		verdict = "faster with the index (timed out without it)";
	else if (timed_out_with)
		verdict = "slower with the index (timed out with it)";
	else
	{
		ms_with = median(with, nwith);
		ms_without = median(without, nwithout);
		if (!used_always)
			verdict = "the planner did not use the index on every run";
		else if (ms_without > ms_with * VALIDATE_SAME_RATIO)
			verdict = "faster with the index";
		else if (ms_with > ms_without * VALIDATE_SAME_RATIO)
			verdict = "slower with the index";
		else
			verdict = "no measurable difference";
	}

	values[0] = Int64GetDatum(s->queryid);
	values[1] = CStringGetTextDatum(s->sample);
	values[2] = Int64GetDatum(s->calls);
	values[3] = Float8GetDatum(s->total_ms);
	values[4] = Float8GetDatum(ms_with);
	nulls[4] = nwith == 0 || timed_out_with;
	values[5] = Float8GetDatum(ms_without);
	nulls[5] = nwithout == 0 || timed_out_without;
	values[6] = Float8GetDatum(ms_with > 0 ? ms_without / ms_with : 0);
	nulls[6] = nulls[4] || nulls[5] || ms_with <= 0;
	values[7] = Int32GetDatum(Max(nwith, nwithout));
	values[8] = CStringGetTextDatum(verdict);
	if (error)
		values[9] = CStringGetTextDatum(error);
	else
		nulls[9] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

typedef struct ValidationCounts
{
	int			n;				/* statements with a sample */
	int			nused;			/* measured */
	int			nparams;		/* samples with $n */
	int			nwrites;		/* use the index, never run */
	int			nowners;		/* a superuser's over several owners' tables */
	int			nforbidden;		/* of roles the caller may not act as */
} ValidationCounts;

/*
 * Plan every sample of this database's statements and measure those that
 * use the index, a row each; counts what was left out in *c.  Connects to
 * SPI and finishes; the profiler is off meanwhile.
 */
static void
validate_statements(ReturnSetInfo *rsinfo, Oid indexoid, List *members,
					List *names, int runs, int timeout_ms, ValidationCounts *c)
{
	Statement  *stmts;
	int			nestlevel;

	SPI_connect();
	/* these runs are not workload */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("smart_dairy_perf.enabled", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	stmts = read_statements(&c->n, GetConfigOptionResetString("search_path"));
	for (int i = 0; i < c->n; i++)
	{
		PlanArgs	args = {&stmts[i], members};
		ErrorData  *edata;

		CHECK_FOR_INTERRUPTS();
		edata = sdp_run_in_subtransaction(plan_sample, &args);
		if (edata != NULL)
		{
			/* a sample with $n cannot run; other errors: not runnable either */
			if (edata->sqlerrcode == ERRCODE_UNDEFINED_PARAMETER)
			{
				stmts[i].has_params = true;
				c->nparams++;
			}
			FreeErrorData(edata);
			continue;
		}
		if (stmts[i].several_owners)
			c->nowners++;
		else if (stmts[i].not_permitted)
			c->nforbidden++;
		else if (stmts[i].uses && stmts[i].writes)
			c->nwrites++;
		else if (stmts[i].uses)
		{
			measure(rsinfo, &stmts[i], indexoid, names, runs, timeout_ms);
			c->nused++;
		}
	}
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
}

/* sdp._validate_index(index regclass, runs integer, timeout_ms integer) */
Datum
sdp_validate_index(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	int			runs = PG_GETARG_INT32(1);
	int			timeout_ms = PG_GETARG_INT32(2);
	char		relkind = get_rel_relkind(indexoid);
	ReturnSetInfo *rsinfo;
	ValidationCounts c = {0};
	List	   *revealed;
	char	   *indexname;
	List	   *members;
	List	   *names = NIL;
	ListCell   *lc;

	sdp_store_check_loaded();
	if (relkind != RELKIND_INDEX && relkind != RELKIND_PARTITIONED_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index",
						relkind ? get_rel_name(indexoid) : psprintf("%u", indexoid)),
				 errhint("Pass the name of an index, for instance one listed by \\di.")));
	if (runs < 1 || runs > VALIDATE_MAX_RUNS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("runs must be between 1 and %d", VALIDATE_MAX_RUNS)));
	if (timeout_ms < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must be positive")));
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (!sdp_keep_samples)
	{
		ereport(NOTICE,
				(errmsg("no statement to run: smart_dairy_perf.query_samples is off, so no sample with real constants is kept"),
				 errhint("Validation runs the profiled statements' samples; set smart_dairy_perf.query_samples = on and let the workload run.")));
		return (Datum) 0;
	}
	if (validation_timeout == MAX_TIMEOUTS)
		validation_timeout = RegisterTimeout(USER_TIMEOUT, validation_timeout_handler);
	indexname = get_rel_name(indexoid);
	members = sdp_index_and_partitions(indexoid);
	foreach(lc, members)
		names = lappend(names, get_rel_name(lfirst_oid(lc)));

	/* measured with and without it whatever the session hid */
	revealed = sdp_index_reveal(members);
	PG_TRY();
	{
		validate_statements(rsinfo, indexoid, members, names, runs, timeout_ms, &c);
	}
	PG_FINALLY();
	{
		sdp_index_rehide(revealed);
	}
	PG_END_TRY();

	if (c.nused == 0 && c.nwrites > 0)
		ereport(NOTICE,
				(errmsg("index \"%s\" is used only by statements that write or lock rows (%d), which validation never runs",
						indexname, c.nwrites),
				 errhint("Use sdp.hide_index() and EXPLAIN to see their plans without it.")));
	else if (c.nused == 0)
		ereport(NOTICE,
				(errmsg("no profiled statement of this database is planned with index \"%s\"", indexname),
				 errdetail("%d statements with a sample were planned; %d of them have parameters and cannot be run.",
						   c.n, c.nparams),
				 errhint("Run the workload that should use the index, then validate it again.")));
	else if (c.nwrites > 0)
		ereport(NOTICE,
				(errmsg("%d statements that use index \"%s\" write or lock rows, and were not run",
						c.nwrites, indexname)));
	if (c.nowners > 0)
		ereport(NOTICE,
				(errmsg("%d statements of superusers over tables of several owners were not planned, nor run",
						c.nowners),
				 errdetail("A superuser's statement is run as the owner of the tables it reads, never with superuser rights.")));
	if (c.nforbidden > 0)
		ereport(NOTICE,
				(errmsg("%d statements were not planned, nor run: they run as roles whose privileges you do not have",
						c.nforbidden),
				 errhint("A superuser, or a member of those roles, can validate them.")));
	if (c.nused > 0 && c.nparams > 0)
		ereport(NOTICE,
				(errmsg("%d statements were left out: their samples have parameters ($n, sent with bind parameters)",
						c.nparams)));
	return (Datum) 0;
}
