/*-------------------------------------------------------------------------
 *
 * predicate_sampler.c
 *	  Predicates from executed plans, for the index advisor: what the
 *	  statements' text alone cannot tell (statements run inside functions,
 *	  texts cut at max_query_text, shapes evicted from the profiler) and
 *	  how many rows each filter really threw away.
 *
 *	  A fraction of statements (smart_dairy_perf.predicate_sample_rate), at
 *	  every nesting level, runs with row instrumentation: per-node counters,
 *	  no clock reads.  At ExecutorEnd its plan tree is walked once:
 *	  - a scan whose filter removed rows gives its column tests (column op
 *	    constant or parameter, column op ANY (array), column IS NULL) with
 *	    the index conditions it already had;
 *	  - a hash, merge or nested-loop join clause column = column whose
 *	    side is a full sequential scan gives that column as a join key;
 *	  - Limit over Sort over a scan gives the scan's tests and the sort
 *	    columns.
 *	  Each is charged the statement's time in proportion to the rows its
 *	  scan read among all scans of the statement, and scaled by 1/rate, so
 *	  its total estimates the time of all executions, sampled or not.
 *
 *	  Hot-path rules: a statement not sampled pays a countdown; the
 *	  walk does no catalog access and no allocation (operators are kept as
 *	  OIDs and named when read, predicate_store.c), so it cannot raise an
 *	  error into the user's statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/transam.h"
#include "common/pg_prng.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"

#include "predicates.h"
#include "sdp_config.h"

/* sampled statements whose ExecutorEnd has not come yet (nesting) */
#define MAX_WATCHED		8
/* predicates kept from one statement */
#define MAX_FOUND		16

static QueryDesc *watched[MAX_WATCHED];
static int	nwatched = 0;

typedef struct Found
{
	SdpPredicateKey key;
	double		rows_kept;
	double		rows_removed;
	double		rows_read;		/* by the scan the predicate belongs to */
	int64		limit;
} Found;

typedef struct Harvest
{
	List	   *rtable;
	double		rows_read;		/* by every scan of the statement */
	int			nfound;
	Found		found[MAX_FOUND];
} Harvest;

/*
 * Statements to let pass before the next sample: drawn from the geometric
 * distribution, which picks each statement with probability rate as a
 * draw per statement would, but costs a countdown instead of a random
 * number on the statements in between.
 */
static double countdown_rate = -1;
static double log_keep = 0;		/* log(1 - rate) */
static int64 countdown = 0;

static int64
statements_to_next_sample(void)
{
	double		u = pg_prng_double(&pg_global_prng_state);	/* [0, 1) */

	if (countdown_rate >= 1.0)
		return 1;
	return 1 + (int64) Min(floor(log(1.0 - u) / log_keep), (double) PG_INT32_MAX);
}

/*
 * ExecutorStart, before the executor: pick the statement or not.  A new
 * top-level statement forgets descriptors whose ExecutorEnd never came
 * (their statement failed).
 */
bool
sdp_predicates_start(QueryDesc *queryDesc, bool top_level)
{
	if (top_level)
		nwatched = 0;
	if (sdp_predicate_sample_rate <= 0.0)
		return false;
	if (countdown_rate != sdp_predicate_sample_rate)
	{
		countdown_rate = sdp_predicate_sample_rate;
		log_keep = countdown_rate < 1.0 ? log(1.0 - countdown_rate) : 0;
		countdown = statements_to_next_sample();
	}
	if (--countdown > 0)
		return false;
	countdown = statements_to_next_sample();
	if (nwatched >= MAX_WATCHED || queryDesc->plannedstmt->queryId == UINT64CONST(0) ||
		IsParallelWorker())
		return false;
	queryDesc->instrument_options |= INSTRUMENT_ROWS;
	return true;
}

/* ExecutorStart, after the executor started: remember the descriptor */
void
sdp_predicates_watch(QueryDesc *queryDesc)
{
	if (nwatched < MAX_WATCHED)
		watched[nwatched++] = queryDesc;
}

/* ExecutorEnd: was this descriptor sampled?  Forgets it either way. */
bool
sdp_predicates_watched(QueryDesc *queryDesc)
{
	for (int i = nwatched - 1; i >= 0; i--)
	{
		if (watched[i] == queryDesc)
		{
			memmove(&watched[i], &watched[i + 1], sizeof(QueryDesc *) * (nwatched - i - 1));
			nwatched--;
			return true;
		}
	}
	return false;
}

static Node *
strip_relabel(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

static bool
is_column(Node *node, Index scanrelid)
{
	return node != NULL && IsA(node, Var) && ((Var *) node)->varno == scanrelid &&
		((Var *) node)->varattno > 0 && ((Var *) node)->varlevelsup == 0;
}

/* A test of one column of the scanned table against no column at all. */
static bool
column_test(Node *clause, Index scanrelid, SdpPredicateColumn *col)
{
	memset(col, 0, sizeof(*col));
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *l = strip_relabel(linitial(op->args));
		Node	   *r = strip_relabel(lsecond(op->args));

		col->opno = op->opno;
		if (is_column(l, scanrelid) && !contain_var_clause(r))
			col->attnum = ((Var *) l)->varattno;
		else if (is_column(r, scanrelid) && !contain_var_clause(l))
		{
			col->attnum = ((Var *) r)->varattno;
			col->flags = SDP_COL_CONST_LEFT;
		}
		return col->attnum > 0;
	}
	if (IsA(clause, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) clause)->useOr)
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Node	   *l = strip_relabel(linitial(sa->args));

		if (!is_column(l, scanrelid) || contain_var_clause(lsecond(sa->args)))
			return false;
		col->attnum = ((Var *) l)->varattno;
		col->opno = sa->opno;
		col->flags = SDP_COL_ANY;
		return true;
	}
	if (IsA(clause, NullTest) && ((NullTest *) clause)->nulltesttype == IS_NULL &&
		!((NullTest *) clause)->argisrow)
	{
		Node	   *arg = strip_relabel((Node *) ((NullTest *) clause)->arg);

		if (!is_column(arg, scanrelid))
			return false;
		col->attnum = ((Var *) arg)->varattno;
		col->flags = SDP_COL_IS_NULL;
		return true;
	}
	return false;
}

static int
column_cmp(const void *a, const void *b)
{
	const SdpPredicateColumn *x = a;
	const SdpPredicateColumn *y = b;

	if (x->attnum != y->attnum)
		return x->attnum < y->attnum ? -1 : 1;
	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	if (x->opno != y->opno)
		return x->opno < y->opno ? -1 : 1;
	return 0;
}

/* Add the recognised tests of quals; returns how many were added. */
static int
add_tests(SdpPredicateKey *key, List *quals, Index scanrelid)
{
	ListCell   *lc;
	int			added = 0;

	foreach(lc, quals)
	{
		SdpPredicateColumn col;
		bool		dup = false;

		if (key->ncols >= SDP_PRED_MAX_COLS ||
			!column_test(lfirst(lc), scanrelid, &col))
			continue;
		for (int i = 0; i < key->ncols && !dup; i++)
			dup = column_cmp(&key->cols[i], &col) == 0;
		if (!dup)
		{
			key->cols[key->ncols++] = col;
			added++;
		}
	}
	return added;
}

static bool
is_scan(Plan *plan)
{
	return IsA(plan, SeqScan) || IsA(plan, IndexScan) ||
		IsA(plan, IndexOnlyScan) || IsA(plan, BitmapHeapScan);
}

static double
rows_returned(Instrumentation *instr)
{
	return instr->ntuples + instr->tuplecount;
}

/* The scan's table, when it is a user table (not a catalog, not a function). */
static bool
scan_key(Harvest *h, Scan *scan, char kind, SdpPredicateKey *key)
{
	RangeTblEntry *rte;

	memset(key, 0, sizeof(*key));
	if (scan->scanrelid == 0 || scan->scanrelid > list_length(h->rtable))
		return false;
	rte = rt_fetch(scan->scanrelid, h->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relid < FirstNormalObjectId)
		return false;
	key->dbid = MyDatabaseId;
	key->relid = rte->relid;
	key->kind = kind;
	return true;
}

/* A scan's filter and index conditions as column tests, sorted. */
static int
scan_tests(PlanState *ps, SdpPredicateKey *key)
{
	Plan	   *plan = ps->plan;
	Index		scanrelid = ((Scan *) plan)->scanrelid;
	int			in_filter = add_tests(key, plan->qual, scanrelid);

	if (IsA(plan, IndexScan))
		add_tests(key, ((IndexScan *) plan)->indexqualorig, scanrelid);
	else if (IsA(plan, BitmapHeapScan))
		add_tests(key, ((BitmapHeapScan *) plan)->bitmapqualorig, scanrelid);
	qsort(key->cols, key->ncols, sizeof(SdpPredicateColumn), column_cmp);
	return in_filter;
}

static void
keep_found_predicate(Harvest *h, SdpPredicateKey *key, PlanState *scan, int64 limit)
{
	Instrumentation *instr = scan->instrument;
	Found	   *f;

	if (h->nfound >= MAX_FOUND || key->ncols == 0)
		return;
	f = &h->found[h->nfound++];
	f->key = *key;
	f->rows_kept = rows_returned(instr);
	f->rows_removed = instr->nfiltered1;
	f->rows_read = f->rows_kept + f->rows_removed;
	f->limit = limit;
}

/*
 * The scan under Hash, Sort or Material that produces output column resno
 * of ps, and the table column it is; NULL when it is not a plain column.
 */
static PlanState *
column_source(PlanState *ps, AttrNumber resno, AttrNumber *attnum)
{
	while (ps != NULL)
	{
		Plan	   *plan = ps->plan;
		TargetEntry *tle;
		Node	   *expr;

		if (resno <= 0 || resno > list_length(plan->targetlist))
			return NULL;
		tle = list_nth(plan->targetlist, resno - 1);
		expr = strip_relabel((Node *) tle->expr);
		if (!IsA(expr, Var))
			return NULL;
		if (is_scan(plan))
		{
			if (!is_column(expr, ((Scan *) plan)->scanrelid))
				return NULL;
			*attnum = ((Var *) expr)->varattno;
			return ps;
		}
		if (!(IsA(plan, Hash) || IsA(plan, Sort) || IsA(plan, Material)) ||
			((Var *) expr)->varno != OUTER_VAR)
			return NULL;
		resno = ((Var *) expr)->varattno;
		ps = outerPlanState(ps);
	}
	return NULL;
}

/* column = column join clauses: the columns of sides that are full scans */
static void
join_keys(Harvest *h, PlanState *join, List *clauses)
{
	ListCell   *lc;

	foreach(lc, clauses)
	{
		OpExpr	   *op = lfirst(lc);

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		for (int side = 0; side < 2; side++)
		{
			Node	   *arg = strip_relabel(list_nth(op->args, side));
			PlanState  *child;
			PlanState  *scan;
			AttrNumber	attnum;
			SdpPredicateKey key;

			if (!IsA(arg, Var))
				continue;
			if (((Var *) arg)->varno == OUTER_VAR)
				child = outerPlanState(join);
			else if (((Var *) arg)->varno == INNER_VAR)
				child = innerPlanState(join);
			else
				continue;
			scan = column_source(child, ((Var *) arg)->varattno, &attnum);
			if (scan == NULL || !IsA(scan->plan, SeqScan) || scan->instrument == NULL ||
				!scan_key(h, (Scan *) scan->plan, SDP_PRED_JOIN, &key))
				continue;
			key.ncols = 1;
			key.cols[0].attnum = attnum;
			key.cols[0].opno = op->opno;	/* an equality: either side reads the same */
			keep_found_predicate(h, &key, scan, 0);
		}
	}
}

/* Limit over Sort over a scan: the scan's tests, then the sort columns */
static void
order_limit(Harvest *h, LimitState *limit)
{
	PlanState  *sortstate = outerPlanState(limit);
	Sort	   *sort;
	PlanState  *scan = NULL;
	SdpPredicateKey key;

	if (sortstate == NULL || !IsA(sortstate->plan, Sort) || limit->noCount)
		return;
	sort = (Sort *) sortstate->plan;
	for (int i = 0; i < sort->numCols; i++)
	{
		AttrNumber	attnum;
		PlanState  *source = column_source(outerPlanState(sortstate),
										   sort->sortColIdx[i], &attnum);

		if (source == NULL || (scan != NULL && source != scan))
			return;
		scan = source;
	}
	if (scan == NULL || scan->instrument == NULL ||
		!scan_key(h, (Scan *) scan->plan, SDP_PRED_ORDER, &key))
		return;
	(void) scan_tests(scan, &key);
	if (key.ncols + sort->numCols > SDP_PRED_MAX_COLS)
		return;
	for (int i = 0; i < sort->numCols; i++)
	{
		AttrNumber	attnum;

		(void) column_source(outerPlanState(sortstate), sort->sortColIdx[i], &attnum);
		key.cols[key.ncols].attnum = attnum;
		key.cols[key.ncols].opno = sort->sortOperators[i];
		key.cols[key.ncols].flags = SDP_COL_SORT;
		key.ncols++;
	}
	keep_found_predicate(h, &key, scan, limit->count);
}

static bool
harvest_node(PlanState *ps, void *context)
{
	Harvest    *h = context;
	Plan	   *plan = ps->plan;

	if (ps->instrument != NULL)
	{
		if (is_scan(plan))
		{
			SdpPredicateKey key;

			h->rows_read += rows_returned(ps->instrument) + ps->instrument->nfiltered1;
			if (ps->instrument->nfiltered1 > 0 &&
				scan_key(h, (Scan *) plan, SDP_PRED_FILTER, &key) &&
				scan_tests(ps, &key) > 0)
				keep_found_predicate(h, &key, ps, 0);
		}
		else if (IsA(plan, HashJoin))
			join_keys(h, ps, ((HashJoin *) plan)->hashclauses);
		else if (IsA(plan, MergeJoin))
			join_keys(h, ps, ((MergeJoin *) plan)->mergeclauses);
		else if (IsA(plan, NestLoop))
			join_keys(h, ps, ((Join *) plan)->joinqual);
		else if (IsA(plan, Limit))
			order_limit(h, (LimitState *) ps);
	}
	return planstate_tree_walker(ps, harvest_node, context);
}

/*
 * ExecutorEnd of a sampled statement, before the executor's own: record
 * what its plan tree shows.
 */
void
sdp_predicates_harvest(QueryDesc *queryDesc, double elapsed_ms)
{
	Harvest		h;

	if (queryDesc->planstate == NULL || queryDesc->estate == NULL)
		return;
	h.rtable = queryDesc->estate->es_range_table;
	h.rows_read = 0;
	h.nfound = 0;
	(void) harvest_node(queryDesc->planstate, &h);
	for (int i = 0; i < h.nfound; i++)
	{
		Found	   *f = &h.found[i];
		double		share = h.rows_read > 0 ? f->rows_read / h.rows_read : 0;

		sdp_predicate_record(&f->key, f->rows_kept, f->rows_removed,
							 elapsed_ms * share, f->limit,
							 queryDesc->plannedstmt->queryId,
							 sdp_predicate_sample_rate);
	}
}
