/*-------------------------------------------------------------------------
 *
 * index_advisor.c
 *	  Missing-index advice for the whole workload: sdp._index_advice(),
 *	  wrapped by sdp.recommend_indexes() in SQL.  This file is the entry
 *	  point and the workload; the three phases that follow are
 *	  advisor_candidates.c (candidates, collected while the workload is
 *	  planned the first time), advisor_whatif.c (planning with hypothetical
 *	  indexes) and advisor_choice.c (the greedy choice and the rows
 *	  reported), sharing advisor.h.
 *
 *	  Workload: the statements the profiler has seen in this database
 *	  (SELECT, UPDATE, DELETE), heaviest by total time first, each parsed
 *	  from its normalized text and planned generically ($n parameters stay
 *	  parameters, as for a prepared statement: the plan for any
 *	  constants), or from its sample (sdp.query_samples: the text of its
 *	  first execution, real constants) when the normalized text does not
 *	  parse (interval $2) or when the sample's plan tests a constant the
 *	  generic plan cannot see (see prepare_statement()); then the predicates
 *	  sampled from executed plans (predicate_store.c), each as a statement
 *	  with the same column tests: for statements the profile lacks (inside
 *	  functions, texts cut short, evicted shapes) weighted by their
 *	  estimated time; for scans of profiled statements as evidence only
 *	  (they count toward min_improvement_pct, so an index that makes a scan
 *	  much cheaper inside an expensive statement is not hidden by the rest
 *	  of its cost, but the time saved is the statement's).  Each statement
 *	  is prepared in a subtransaction of its own: one that no longer parses
 *	  (a text cut at max_query_text, a dropped table) is not planned, and
 *	  counted with its reason and share of the time (advisor_coverage.c).
 *
 *	  Whose rights: planning runs a statement's constant calls of
 *	  immutable functions (constant folding), so each profiled statement
 *	  is parsed and planned as the role that spent most time on it, inside
 *	  a security-restricted operation, under the search_path the
 *	  statement was first run with (sdp.query_samples; the caller's when
 *	  none was recorded); the statements built from observed predicates (fully
 *	  qualified) as the table's owner under pg_catalog, pg_temp.  A
 *	  statement whose role is gone is skipped; a superuser's statement is
 *	  planned as the one owner of the relations it reads (their index
 *	  expressions are that owner's code), or not at all over several
 *	  owners' relations; the maintenance worker's statements are not part
 *	  of the workload.
 *
 *	  The hooks are installed only while the function runs, so planning
 *	  elsewhere never pays for them; the profiler is switched off for the
 *	  advisor's own parsing.  The workload is read through SPI (connected
 *	  for the whole call); everything lives in the call's memory contexts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "advisor.h"
#include "predicates.h"
#include "profiler_store.h"
#include "run_as_owner.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_index_advice);
PG_FUNCTION_INFO_V1(sdp_advisor_coverage);

typedef struct ParseArgs
{
	WorkItem   *w;
	MemoryContext keep;
	MemoryContext scratch;
} ParseArgs;

/*
 * Parse, analyze (parameter types inferred), rewrite and plan w->text
 * once.  A statement that is not planned says why in w->outcome; one
 * that raises an error is classified by the caller.
 */
static void
prepare_item(void *arg)
{
	ParseArgs  *a = arg;
	WorkItem   *w = a->w;
	List	   *raw;
	Oid		   *ptypes = NULL;
	int			nparams = 0;
	Query	   *query;
	List	   *rewritten;
	MemoryContext old;
	SdpSavedUser saved;

	w->query = NULL;
	if (!OidIsValid(w->userid) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(w->userid)))
	{
		w->outcome = ADVISOR_ROLE_GONE;
		return;
	}
	raw = pg_parse_query(w->text);
	if (list_length(raw) != 1)
	{
		w->outcome = ADVISOR_NOT_INDEXABLE;
		return;
	}
	/* names resolve, and constant calls fold, as for the statement's user */
	sdp_become_role(w->userid, w->search_path, &saved);
	query = parse_analyze_varparams(linitial(raw), w->text, &ptypes, &nparams, NULL);
	if (query->commandType != CMD_SELECT && query->commandType != CMD_UPDATE &&
		query->commandType != CMD_DELETE)
	{
		sdp_restore_user(&saved);
		w->outcome = ADVISOR_NOT_INDEXABLE;
		return;
	}
	rewritten = QueryRewrite(query);
	sdp_restore_user(&saved);
	if (list_length(rewritten) != 1)
	{
		w->outcome = ADVISOR_NOT_INDEXABLE;
		return;
	}
	/*
	 * A superuser's statement is planned as the one owner of everything it
	 * reads, not as the superuser: planning folds constant calls in the
	 * tables' index expressions and predicates, which are their owners'
	 * code.  Over several owners' tables it is not planned.
	 */
	if (superuser_arg(w->userid))
	{
		Oid			owner = InvalidOid;

		if (!sdp_query_single_owner(linitial(rewritten), &owner))
		{
			w->outcome = ADVISOR_OWNERS;
			return;
		}
		if (!OidIsValid(owner))
		{
			w->outcome = ADVISOR_NO_TABLE;	/* SELECT pg_is_in_recovery() */
			return;
		}
		w->userid = owner;
	}
	old = MemoryContextSwitchTo(a->keep);
	w->query = copyObject(linitial(rewritten));
	MemoryContextSwitchTo(old);

	sdp_advisor_collecting_for = w;
	PG_TRY();
	{
		w->base_cost = sdp_advisor_what_if(w, NULL, NULL, a->scratch);
	}
	PG_FINALLY();
	{
		sdp_advisor_collecting_for = NULL;
	}
	PG_END_TRY();
	w->cur_cost = w->base_cost;
	w->outcome = w->from_sample ? ADVISOR_PLANNED_SAMPLE : ADVISOR_PLANNED;
}

/* Plan w->text in a subtransaction; false (outcome and error set) when it raised. */
static bool
try_text(WorkItem *w, MemoryContext keep, MemoryContext scratch)
{
	ParseArgs	args = {w, keep, scratch};
	ErrorData  *edata = sdp_run_in_subtransaction(prepare_item, &args);

	if (edata == NULL)
		return true;
	w->query = NULL;
	w->outcome = sdp_advisor_classify_error(edata, w->text);
	w->error = MemoryContextStrdup(keep, edata->message);
	FreeErrorData(edata);
	return false;
}

/*
 * Prepare a profiled statement from its normalized text, planned
 * generically: the plan for any constants, not the sample's.  The sample
 * (real constants) replaces it when its plan tests a constant the
 * generic plan cannot see (column = constant on a few-valued column, a
 * range with a constant bound: advisor_candidates.c), and stands in when
 * the normalized text does not parse (interval $1, now() - $1).  When both
 * fail, the reason kept is the more telling one: a name that does not
 * resolve or a missing right, then the normalized text's.
 */
static void
prepare_statement(WorkItem *w, MemoryContext keep, MemoryContext scratch)
{
	WorkItem	alt;

	w->text = w->normalized;
	w->from_sample = false;
	if (try_text(w, keep, scratch) && w->query != NULL)
	{
		if (w->sample == NULL)
			return;
		alt = *w;
		alt.text = alt.sample;
		alt.from_sample = true;
		alt.constants_matter = false;
		alt.query = NULL;
		if (try_text(&alt, keep, scratch) && alt.query != NULL && alt.constants_matter)
			*w = alt;
		return;
	}
	if (w->sample == NULL || w->outcome == ADVISOR_ROLE_GONE ||
		w->outcome == ADVISOR_OWNERS || w->outcome == ADVISOR_NOT_INDEXABLE)
		return;					/* the sample would say the same */
	alt = *w;
	alt.text = alt.sample;
	alt.from_sample = true;
	alt.error = NULL;
	if (try_text(&alt, keep, scratch) && alt.query != NULL)
	{
		*w = alt;
		return;
	}
	if (w->outcome != ADVISOR_NOT_FOUND && w->outcome != ADVISOR_PERMISSION &&
		(alt.outcome == ADVISOR_NOT_FOUND || alt.outcome == ADVISOR_PERMISSION))
	{
		w->outcome = alt.outcome;
		w->error = alt.error;
	}
}

/* One of the statements built from observed predicates (our own text). */
static void
prepare_in_subtransaction(WorkItem *w, MemoryContext keep, MemoryContext scratch)
{
	w->from_sample = false;
	(void) try_text(w, keep, scratch);
}

/* heaviest observed predicates first */
static int
heavier_predicate(const ListCell *a, const ListCell *b)
{
	double		x = ((SdpObservedPredicate *) lfirst(a))->counters.est_total_ms;
	double		y = ((SdpObservedPredicate *) lfirst(b))->counters.est_total_ms;

	return x > y ? -1 : x < y ? 1 : 0;
}

/*
 * Every statement the profiler has seen in this database, heaviest first,
 * into a new array in keep with room for nextra more items, its texts
 * copied there too; each to be planned as the role that spent most time
 * on it, under the search_path it ran with (default_path when none was
 * recorded).  The first ADVISOR_MAX_QUERIES that may read a table are
 * marked to be planned (outcome ADVISOR_PLANNED for now); the others carry
 * why not.  *n gets how many.  Caller connected to SPI.
 */
static WorkItem *
read_profiled_statements(int *n, int nextra, const char *default_path,
						 MemoryContext keep)
{
	uint64		nrows;
	int			to_plan = 0;
	WorkItem   *items;

	/*
	 * The library also serves older versions of the extension's SQL (1.1,
	 * 1.2), which have no sdp.query_samples: then no statement has one.
	 */
	Oid			sdp_schema = get_namespace_oid("sdp", true);
	const char *samples = OidIsValid(sdp_schema) &&
		OidIsValid(get_relname_relid("query_samples", sdp_schema)) ?
		"sdp.query_samples" :
		"(SELECT NULL::pg_catalog.oid AS userid, NULL::pg_catalog.oid AS dbid, "
		"NULL::pg_catalog.int8 AS queryid, NULL::pg_catalog.bool AS toplevel, "
		"NULL::pg_catalog.text AS application, NULL::pg_catalog.text AS search_path, "
		"NULL::pg_catalog.text AS sample_query WHERE false)";

	nrows = sdp_spi_exec(psprintf("SELECT q.queryid, q.query, "
						 "pg_catalog.sum(q.calls)::pg_catalog.int8 AS calls, "
						 "pg_catalog.sum(q.total_exec_time)::pg_catalog.float8 AS total_ms, "
						 "(pg_catalog.array_agg(q.userid ORDER BY " HEAVIEST_ROW_FIRST "))[1] AS userid, "
						 "(pg_catalog.array_agg(s.search_path ORDER BY " HEAVIEST_ROW_FIRST "))[1] AS search_path, "
						 "(pg_catalog.array_agg(s.sample_query ORDER BY " HEAVIEST_ROW_FIRST "))[1] AS sample, "
	/* a PL/pgSQL expression is planned as SELECT <expression> */
						 "q.query OPERATOR(pg_catalog.~*) '^\\s*(select|with|update|delete|values|table|\\()' AS reads, "
						 "q.query OPERATOR(pg_catalog.~) '^\\s*\\(' AS expression, "
						 "q.query OPERATOR(pg_catalog.=) '<insufficient privilege>' AS hidden, "
						 "pg_catalog.count(*) AS nrows "
						 "FROM sdp.query_stats q "
						 "LEFT JOIN %s s ON " SAMPLE_OF_STATS_ROW
	/* the extension's own statements are not the workload */
						 "WHERE " WORKLOAD_OF_THIS_DATABASE
						 "AND q.query OPERATOR(pg_catalog.!~) '\\msdp\\.' "
	/* utility statements (track_utility) are not the advisor's to plan */
						 "AND q.query OPERATOR(pg_catalog.~*) "
						 "'^\\s*(select|with|update|delete|insert|merge|values|table|\\(|<insufficient privilege>)' "
	/* nor, with track = all, the statements of its SQL functions */
						 "AND NOT (NOT q.toplevel AND s.sample_query IS NOT NULL AND EXISTS ("
						 "  SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_extension e "
						 "    ON e.extname OPERATOR(pg_catalog.=) 'smart_dairy_perf' "
						 "   AND p.pronamespace OPERATOR(pg_catalog.=) e.extnamespace "
						 "   AND pg_catalog.strpos(p.prosrc, s.sample_query) OPERATOR(pg_catalog.>) 0)) "
						 "GROUP BY q.queryid, q.query "
						 "ORDER BY pg_catalog.sum(q.total_exec_time) DESC, q.queryid", samples),
						 0, NULL, NULL, NULL);
	items = MemoryContextAllocZero(keep, sizeof(WorkItem) * (nrows + nextra + 1));
	for (uint64 i = 0; i < nrows; i++)
	{
		WorkItem   *w = &items[i];
		MemoryContext old = MemoryContextSwitchTo(keep);
		bool		isnull;
		Datum		userid = sdp_spi_get(i, "userid", OIDOID, &isnull);
		char	   *path;
		bool		expression = sdp_spi_bool(i, "expression");

		w->userid = isnull ? InvalidOid : DatumGetObjectId(userid);
		w->queryid = sdp_spi_int64(i, "queryid");
		w->normalized = sdp_spi_get_text(i, "query");
		w->sample = sdp_spi_get_text(i, "sample");
		if (expression)
		{
			w->normalized = psprintf("SELECT %s", w->normalized);
			if (w->sample)
				w->sample = psprintf("SELECT %s", w->sample);
		}
		path = sdp_spi_get_text(i, "search_path");
		w->search_path = path ? path : default_path;
		w->text = w->normalized;
		MemoryContextSwitchTo(old);
		w->calls = sdp_spi_int64(i, "calls");
		w->total_ms = DatumGetFloat8(sdp_spi_get(i, "total_ms", FLOAT8OID, &isnull));
		if (sdp_spi_bool(i, "hidden"))
		{
			w->outcome = ADVISOR_PERMISSION;
			w->statements = sdp_spi_int64(i, "nrows");
		}
		else if (!sdp_spi_bool(i, "reads"))
			w->outcome = ADVISOR_NOT_INDEXABLE;
		else if (to_plan >= ADVISOR_MAX_QUERIES)
			w->outcome = ADVISOR_BEYOND_LIMIT;
		else
		{
			w->outcome = ADVISOR_PLANNED;
			to_plan++;
		}
	}
	*n = (int) nrows;
	return items;
}

/* Prepare the statements read_profiled_statements() marked to be planned. */
static void
prepare_profiled(WorkItem *items, int n, MemoryContext keep, MemoryContext scratch)
{
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (items[i].outcome == ADVISOR_PLANNED)
			prepare_statement(&items[i], keep, scratch);
	}
}

/*
 * After the nprofiled prepared statements in items: one statement per
 * observed predicate, prepared too.  Those that scan a profiled statement
 * are scan_only: they count toward whether an index is worth it, not
 * toward the time it saves, which is the statement's.  Returns the new
 * number of items.
 */
static int
add_observed_predicates(WorkItem *items, int nprofiled, List *observed,
						int nobserved, MemoryContext keep, MemoryContext scratch)
{
	int			n = nprofiled;

	for (int j = 0; j < nobserved; j++)
	{
		SdpObservedPredicate *o = list_nth(observed, j);
		bool		known = false;

		for (int i = 0; i < nprofiled && !known; i++)
			known = items[i].queryid == (int64) o->counters.queryid &&
				items[i].query != NULL && !items[i].scan_only;
		items[n].scan_only = known;
		items[n].queryid = (int64) o->counters.queryid;
		items[n].text = MemoryContextStrdup(keep,
											psprintf("/* observed in executed plans */ %s",
													 o->what_if_query));
		/* our own text, fully qualified: planned as the table's owner */
		items[n].userid = get_rel_relkind(o->relid) != '\0' ?
			sdp_relation_owner(o->relid) : InvalidOid;
		items[n].search_path = SDP_SAFE_SEARCH_PATH;
		items[n].calls = (int64) o->counters.est_executions;
		items[n].total_ms = o->counters.est_total_ms;
		prepare_in_subtransaction(&items[n], keep, scratch);
		n++;
	}
	return n;
}

/*
 * The search_path for statements that recorded none: the caller's, or,
 * called from the extension's own functions, which run under
 * pg_catalog, pg_temp (sdp.report()), the session's default one
 * (configuration file, ALTER DATABASE/ROLE ... SET), as a client of this
 * database gets it.
 */
static char *
fallback_search_path(FunctionCallInfo fcinfo, int argno)
{
	char	   *path = PG_NARGS() > argno ?
		text_to_cstring(PG_GETARG_TEXT_PP(argno)) : pstrdup(namespace_search_path);

	if (strcmp(path, SDP_SAFE_SEARCH_PATH) == 0)
		path = pstrdup(GetConfigOptionResetString("search_path"));
	return path;
}

/*
 * The advisor's run: read and plan the workload, then, with choose, the
 * greedy choice and its rows (sdp._index_advice()), else one coverage row
 * per profiled statement (sdp._advisor_coverage()).  Connects to SPI for
 * the whole run; the hooks are installed only meanwhile.
 */
static void
run_advisor(FunctionCallInfo fcinfo, double min_pct, const char *default_path,
			bool choose)
{
	ReturnSetInfo *rsinfo;
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext keep;
	MemoryContext scratch;
	WorkItem   *items;
	int			nprofiled;
	int			n;
	int			nestlevel;
	List	   *observed;
	int			nobserved;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	SPI_connect();
	keep = AllocSetContextCreate(CurrentMemoryContext, "sdp advisor", ALLOCSET_DEFAULT_SIZES);
	sdp_advisor_cxt = keep;
	scratch = AllocSetContextCreate(CurrentMemoryContext, "sdp advisor planning",
									ALLOCSET_DEFAULT_SIZES);
	/* the advisor's own reading and parsing are not workload */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("smart_dairy_perf.enabled", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	observed = choose ? sdp_observed_predicates() : NIL;
	list_sort(observed, heavier_predicate);
	nobserved = Min(list_length(observed), ADVISOR_MAX_QUERIES);
	/* room for the profiled statements, then the observed predicates */
	items = read_profiled_statements(&nprofiled, nobserved, default_path, keep);
	sdp_advisor_candidates = NIL;
	sdp_advisor_injected = NIL;
	sdp_advisor_whatif_install();
	sdp_advisor_collect_install();
	PG_TRY();
	{
		prepare_profiled(items, nprofiled, keep, scratch);
		if (choose)
		{
			List	   *chosen;
			ListCell   *lc;

			sdp_advisor_coverage_remember(items, nprofiled);
			n = add_observed_predicates(items, nprofiled, observed, nobserved, keep, scratch);
			chosen = sdp_advisor_choose(items, n, min_pct, scratch);
			foreach(lc, chosen)
				sdp_advisor_report(rsinfo, lfirst(lc), items, n, scratch);
		}
		else
			sdp_advisor_coverage_rows(rsinfo, items, nprofiled);
	}
	PG_FINALLY();
	{
		sdp_advisor_whatif_uninstall();
		sdp_advisor_collect_uninstall();
		sdp_advisor_candidates = NIL;
		AtEOXact_GUC(true, nestlevel);
	}
	PG_END_TRY();

	SPI_finish();
	MemoryContextSwitchTo(callercxt);
}

/* sdp._index_advice(min_improvement_pct [, search_path]) */
Datum
sdp_index_advice(PG_FUNCTION_ARGS)
{
	double		min_pct = PG_GETARG_FLOAT8(0);

	sdp_store_check_loaded();
	if (isnan(min_pct) || min_pct < 0 || min_pct > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_improvement_pct must be between 0 and 100")));
	run_advisor(fcinfo, min_pct, fallback_search_path(fcinfo, 1), true);
	return (Datum) 0;
}

/* sdp._advisor_coverage(search_path): per profiled statement, planned or why not */
Datum
sdp_advisor_coverage(PG_FUNCTION_ARGS)
{
	sdp_store_check_loaded();
	run_advisor(fcinfo, 0, fallback_search_path(fcinfo, 0), false);
	return (Datum) 0;
}
