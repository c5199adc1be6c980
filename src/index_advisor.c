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
 *	  parameters, as for a prepared statement); then the predicates
 *	  sampled from executed plans (predicate_store.c), each as a statement
 *	  with the same column tests: for statements the profile lacks (inside
 *	  functions, texts cut short, evicted shapes) weighted by their
 *	  estimated time; for scans of profiled statements as evidence only
 *	  (they count toward min_improvement_pct, so an index that makes a scan
 *	  much cheaper inside an expensive statement is not hidden by the rest
 *	  of its cost, but the time saved is the statement's).  Each statement
 *	  is prepared in a subtransaction of its own: one that no longer parses
 *	  (a text cut at max_query_text, a dropped table) is skipped.
 *
 *	  Whose rights: planning runs a statement's constant calls of
 *	  immutable functions (constant folding), so each profiled statement
 *	  is parsed and planned as the role that spent most time on it, inside
 *	  a security-restricted operation, under the session's default
 *	  search_path; the statements built from observed predicates (fully
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

static bool single_owner_mismatch(Node *node, Oid *owner);

typedef struct ParseArgs
{
	WorkItem   *w;
	MemoryContext keep;
	MemoryContext scratch;
} ParseArgs;

/*
 * Owner of every relation a query reads (through subqueries, sublinks and
 * CTEs) in *owner; returns false when they have more than one owner.
 */
static bool
single_owner_walker(Node *node, Oid *owner)
{
	if (node == NULL)
		return true;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		ListCell   *lc;

		foreach(lc, query->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);
			Oid			o;

			if (rte->rtekind != RTE_RELATION)
				continue;
			o = sdp_relation_owner(rte->relid);
			if (OidIsValid(*owner) && o != *owner)
				return false;
			*owner = o;
		}
		return !query_tree_walker(query, single_owner_mismatch, owner, 0);
	}
	return !expression_tree_walker(node, single_owner_mismatch, owner);
}

/* walker form of single_owner_walker(): true stops at a second owner */
static bool
single_owner_mismatch(Node *node, Oid *owner)
{
	return !single_owner_walker(node, owner);
}

/* Parse, analyze (parameter types inferred), rewrite, plan once. */
static void
prepare_item(void *arg)
{
	ParseArgs  *a = arg;
	WorkItem   *w = a->w;
	List	   *raw = pg_parse_query(w->text);
	Oid		   *ptypes = NULL;
	int			nparams = 0;
	Query	   *query;
	List	   *rewritten;
	MemoryContext old;
	SdpSavedUser saved;

	if (list_length(raw) != 1)
		return;
	if (!OidIsValid(w->userid) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(w->userid)))
		return;					/* the role that ran it is gone */
	/* names resolve, and constant calls fold, as for the statement's user */
	sdp_become_role(w->userid, w->search_path, &saved);
	query = parse_analyze_varparams(linitial(raw), w->text, &ptypes, &nparams, NULL);
	if (query->commandType != CMD_SELECT && query->commandType != CMD_UPDATE &&
		query->commandType != CMD_DELETE)
	{
		sdp_restore_user(&saved);
		return;
	}
	rewritten = QueryRewrite(query);
	sdp_restore_user(&saved);
	if (list_length(rewritten) != 1)
		return;
	/*
	 * A superuser's statement is planned as the one owner of everything it
	 * reads, not as the superuser: planning folds constant calls in the
	 * tables' index expressions and predicates, which are their owners'
	 * code.  Over several owners' tables it is not planned.
	 */
	if (superuser_arg(w->userid))
	{
		Oid			owner = InvalidOid;

		if (!single_owner_walker((Node *) linitial(rewritten), &owner) ||
			!OidIsValid(owner))
			return;
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
}

static void
prepare_in_subtransaction(WorkItem *w, MemoryContext keep, MemoryContext scratch)
{
	ParseArgs	args = {w, keep, scratch};
	ErrorData  *edata = sdp_run_in_subtransaction(prepare_item, &args);

	if (edata != NULL)
	{
		/* a text cut at max_query_text, a dropped table: skip it */
		w->query = NULL;
		FreeErrorData(edata);
	}
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
 * The statements the profiler has seen in this database, heaviest first,
 * into items (room for ADVISOR_MAX_QUERIES), their texts copied into keep;
 * each to be planned as the role that spent most time on it, under
 * search_path.  Returns how many.  Caller connected to SPI.
 */
static int
read_profiled_statements(WorkItem *items, const char *search_path,
						 MemoryContext keep)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(ADVISOR_MAX_QUERIES)};
	uint64		n;

	n = sdp_spi_exec("SELECT queryid, query, "
					 "pg_catalog.sum(calls)::pg_catalog.int8 AS calls, "
					 "pg_catalog.sum(total_exec_time)::pg_catalog.float8 AS total_ms, "
					 "(pg_catalog.array_agg(userid ORDER BY total_exec_time DESC))[1] AS userid "
					 "FROM sdp.query_stats "
					 /* the extension's own statements are not the workload */
					 "WHERE application_name IS DISTINCT FROM 'smart_dairy_perf maintenance' "
					 "AND dbid = (SELECT oid FROM pg_catalog.pg_database "
					 "              WHERE datname = pg_catalog.current_database()) "
					 "AND query OPERATOR(pg_catalog.~*) '^\\s*(select|with|update|delete)\\M' "
					 "AND query OPERATOR(pg_catalog.!~) '\\msdp\\.' "
					 "GROUP BY queryid, query ORDER BY pg_catalog.sum(total_exec_time) DESC LIMIT $1",
					 1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(keep);
		bool		isnull;
		Datum		userid = sdp_spi_get(i, "userid", OIDOID, &isnull);

		items[i].queryid = sdp_spi_int64(i, "queryid");
		items[i].text = sdp_spi_get_text(i, "query");
		MemoryContextSwitchTo(old);
		items[i].calls = sdp_spi_int64(i, "calls");
		items[i].total_ms = DatumGetFloat8(sdp_spi_get(i, "total_ms", FLOAT8OID, &isnull));
		items[i].userid = isnull ? InvalidOid : DatumGetObjectId(userid);
		items[i].search_path = search_path;
	}
	return (int) n;
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

/* sdp._index_advice(min_improvement_pct [, search_path]) */
Datum
sdp_index_advice(PG_FUNCTION_ARGS)
{
	double		min_pct = PG_GETARG_FLOAT8(0);
	ReturnSetInfo *rsinfo;
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext keep;
	MemoryContext scratch;
	WorkItem   *items;
	int			n;
	int			nestlevel;
	List	   *observed;
	int			nobserved;
	char	   *session_search_path;

	sdp_store_check_loaded();
	/*
	 * Statements are planned under the caller's search_path ("$user" being
	 * the statement's user); called from the extension's own functions,
	 * which run under pg_catalog, pg_temp (sdp.report()), under the
	 * session's default one (configuration file, ALTER DATABASE/ROLE ...
	 * SET), as a client of this database gets it.
	 */
	session_search_path = PG_NARGS() > 1 ?
		text_to_cstring(PG_GETARG_TEXT_PP(1)) : pstrdup(namespace_search_path);
	if (strcmp(session_search_path, SDP_SAFE_SEARCH_PATH) == 0)
		session_search_path = pstrdup(GetConfigOptionResetString("search_path"));
	if (isnan(min_pct) || min_pct < 0 || min_pct > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_improvement_pct must be between 0 and 100")));
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	SPI_connect();
	keep = AllocSetContextCreate(CurrentMemoryContext, "sdp advisor", ALLOCSET_DEFAULT_SIZES);
	sdp_advisor_cxt = keep;
	scratch = AllocSetContextCreate(CurrentMemoryContext, "sdp advisor planning",
									ALLOCSET_DEFAULT_SIZES);
	/* room for the profiled statements, then the observed predicates */
	items = MemoryContextAllocZero(keep, sizeof(WorkItem) * (2 * ADVISOR_MAX_QUERIES + 1));
	n = read_profiled_statements(items, session_search_path, keep);
	observed = sdp_observed_predicates();
	list_sort(observed, heavier_predicate);
	nobserved = Min(list_length(observed), ADVISOR_MAX_QUERIES);

	/* the advisor's own parsing is not workload */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("smart_dairy_perf.enabled", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	sdp_advisor_candidates = NIL;
	sdp_advisor_injected = NIL;
	sdp_advisor_whatif_install();
	sdp_advisor_collect_install();
	PG_TRY();
	{
		List	   *chosen;
		ListCell   *lc;

		for (int i = 0; i < n; i++)
			prepare_in_subtransaction(&items[i], keep, scratch);
		n = add_observed_predicates(items, n, observed, nobserved, keep, scratch);
		chosen = sdp_advisor_choose(items, n, min_pct, scratch);
		foreach(lc, chosen)
			sdp_advisor_report(rsinfo, lfirst(lc), items, n, scratch);
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
	return (Datum) 0;
}
