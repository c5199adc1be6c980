/*-------------------------------------------------------------------------
 *
 * index_advisor.c
 *	  Missing-index advice for the whole workload: sdp._index_advice(),
 *	  wrapped by sdp.recommend_indexes() in SQL.
 *
 *	  1. Workload: the statements the profiler has seen in this database
 *	     (SELECT, UPDATE, DELETE), heaviest by total time first, each parsed
 *	     from its normalized text and planned generically ($n parameters
 *	     stay parameters, as for a prepared statement); then the
 *	     predicates sampled from executed plans (predicate_store.c), each
 *	     as a statement with the same column tests: for statements the
 *	     profile lacks (inside functions, texts cut short, evicted shapes)
 *	     weighted by their estimated time; for scans of profiled
 *	     statements as evidence only (they count toward min_improvement_pct,
 *	     so an index that makes a scan much cheaper inside an expensive
 *	     statement is not hidden by the rest of its cost, but the time
 *	     saved is the statement's).
 *	  2. Candidates, collected by a set_rel_pathlist hook while the
 *	     workload is planned: per table, the columns compared with
 *	     constants or parameters (equality columns first, then one range
 *	     column or the ORDER BY columns of a LIMIT query), each such column
 *	     alone, join keys (equivalence classes, and outer-join clauses), and
 *	     expressions over one column with immutable functions
 *	     (lower(email)); and two variants of the composite index: partial
 *	     on the statement's IS [NOT] NULL and boolean tests, covering with
 *	     the few more columns an index-only scan needs.  A candidate whose
 *	     columns lead an existing valid index, on a catalog, or on a table
 *	     smaller than smart_dairy_perf.advisor_min_table_pages is dropped.
 *	  3. What-if: the workload is planned again with candidates injected
 *	     as hypothetical btree indexes (hypothetical_index.c) through a
 *	     get_relation_info hook.  Greedy choice for the whole workload: each
 *	     round takes the candidate that saves the most estimated execution
 *	     time (total time × relative cost drop of the statements whose plan
 *	     uses it), if it lowers their cost by at least min_improvement_pct;
 *	     candidates a chosen index serves are then dropped.  Variants
 *	     compete with their plain index as eligible() says.
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
 *	  advisor's own parsing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/plancat.h"
#include "parser/analyze.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "hypothetical_index.h"
#include "predicates.h"
#include "profiler_store.h"
#include "run_as_owner.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_index_advice);

#define ADVISOR_MAX_QUERIES		200
#define ADVISOR_MAX_ROUNDS		10
#define ADVISOR_MAX_COMPOSITE	4
#define ADVISOR_MAX_INCLUDE		3
/*
 * A covering variant must save this much more than its plain index (it is
 * wider); a partial one nearly as much (it is smaller and cheaper to keep).
 */
#define ADVISOR_COVERING_MARGIN	1.25
#define ADVISOR_PARTIAL_MARGIN	0.95
/* a partial index keeps at most this fraction of the table */
#define ADVISOR_PARTIAL_MAX_FRACTION 0.5
/* OIDs no catalog hands out, one per candidate */
#define ADVISOR_FAKE_OID_BASE	((Oid) 0xFFF00000)

typedef struct WorkItem
{
	int64		queryid;
	Oid			userid;			/* planned as this role (see plan_as) */
	const char *search_path;	/* under this search_path */
	char	   *text;
	int64		calls;
	double		total_ms;
	Query	   *query;
	List	   *relids;			/* tables the statement reads */
	double		base_cost;		/* no hypothetical index */
	double		cur_cost;		/* with the chosen ones */
	bool		scan_only;		/* a scan of a profiled statement: see below */
} WorkItem;

typedef struct Candidate
{
	Oid			relid;
	int			nkeys;
	SdpHypoKey	keys[ADVISOR_MAX_COMPOSITE];
	int			ninclude;		/* INCLUDE columns, for index-only scans */
	AttrNumber	include[ADVISOR_MAX_INCLUDE];
	List	   *predicate;		/* partial index: IS [NOT] NULL, boolean columns */
	Oid			fake_oid;
	bool		chosen;
	bool		dropped;
	double		round_gain;		/* time saved in the current greedy round */
	int64		est_pages;		/* summed over partitions in one plan */
} Candidate;

static List *all_candidates = NIL;	/* all Candidate * */
static List *injected_candidates = NIL;	/* the ones injected now */
static bool collecting_candidates = false;
static WorkItem *collecting_for = NULL;
static MemoryContext advisor_cxt = NULL;	/* candidates and relid lists */

static get_relation_info_hook_type prev_get_relation_info = NULL;
static set_rel_pathlist_hook_type prev_set_rel_pathlist = NULL;

/* ----------------------------------------------------------------------
 * Candidate collection
 * ----------------------------------------------------------------------
 */

/* A column of rel, or an immutable expression over exactly one of its Vars. */
static bool
operand_key(PlannerInfo *root, Node *node, Index varno, SdpHypoKey *key)
{
	List	   *vars;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varno != varno || var->varlevelsup != 0 || var->varattno <= 0)
			return false;
		key->attnum = var->varattno;
		key->expr = NULL;
		return true;
	}
	if (!IsA(node, FuncExpr) && !IsA(node, OpExpr) && !IsA(node, CoerceViaIO))
		return false;
	vars = pull_var_clause(node, 0);
	if (list_length(vars) != 1 || ((Var *) linitial(vars))->varno != varno ||
		((Var *) linitial(vars))->varattno <= 0 ||
		contain_mutable_functions(node) || contain_subplans(node))
		return false;
	key->attnum = 0;
	key->expr = copyObject(node);
	ChangeVarNodes(key->expr, varno, 1, 0);
	return true;
}

static bool
pseudo_constant(Node *node)
{
	return !contain_vars_of_level(node, 0) && !contain_volatile_functions(node);
}

/* Btree strategy of opno for the key's type, 0 when not indexable. */
static int
btree_strategy(Oid opno, Node *key_side, bool key_on_right)
{
	Oid			opclass = GetDefaultOpClass(exprType(key_side), BTREE_AM_OID);
	int			strategy;

	if (!OidIsValid(opclass))
		return 0;
	strategy = get_op_opfamily_strategy(opno, get_opclass_family(opclass));
	if (key_on_right && strategy != 0)
		strategy = BTMaxStrategyNumber + 1 - strategy;	/* a < b is b > a */
	return strategy;
}

static bool
same_key(const SdpHypoKey *a, const SdpHypoKey *b)
{
	return a->attnum == b->attnum &&
		(a->attnum != 0 || equal(a->expr, b->expr));
}

static bool
has_key(SdpHypoKey *keys, int n, const SdpHypoKey *k)
{
	for (int i = 0; i < n; i++)
		if (same_key(&keys[i], k))
			return true;
	return false;
}

/* Does a real index of rel (btree, not partial) start with these keys? */
static bool
served_by_existing(RelOptInfo *rel, SdpHypoKey *keys, int nkeys)
{
	ListCell   *lc;

	foreach(lc, rel->indexlist)
	{
		IndexOptInfo *index = lfirst(lc);
		ListCell   *expr_cell = list_head(index->indexprs);
		bool		match = true;

		if (index->hypothetical || index->relam != BTREE_AM_OID ||
			index->indpred != NIL || index->nkeycolumns < nkeys)
			continue;
		for (int i = 0; i < nkeys && match; i++)
		{
			if (index->indexkeys[i] != keys[i].attnum)
				match = false;
			else if (keys[i].attnum == 0)
			{
				Node	   *expr = copyObject(lfirst(expr_cell));

				ChangeVarNodes(expr, rel->relid, 1, 0);
				match = equal(expr, keys[i].expr);
			}
			if (index->indexkeys[i] == 0)
				expr_cell = lnext(index->indexprs, expr_cell);
		}
		if (match)
			return true;
	}
	return false;
}

static Oid
relation_am(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			am = InvalidOid;

	if (HeapTupleIsValid(tuple))
	{
		am = ((Form_pg_class) GETSTRUCT(tuple))->relam;
		ReleaseSysCache(tuple);
	}
	return am;
}

/*
 * The same for a partitioned table, whose indexes the planner does not
 * load: from the catalog, columns only (an expression key is kept).
 */
static bool
served_by_partitioned_index(Oid relid, SdpHypoKey *keys, int nkeys)
{
	Relation	table = table_open(relid, NoLock);	/* locked by the planner */
	List	   *indexes = RelationGetIndexList(table);
	ListCell   *lc;
	bool		served = false;

	table_close(table, NoLock);
	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		bool		match;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		match = index->indisvalid && index->indnkeyatts >= nkeys &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL) &&
			relation_am(index->indexrelid) == BTREE_AM_OID;
		for (int i = 0; i < nkeys && match; i++)
			match = keys[i].attnum > 0 && index->indkey.values[i] == keys[i].attnum;
		ReleaseSysCache(tuple);
		if (match)
		{
			served = true;
			break;
		}
	}
	list_free(indexes);
	return served;
}

static bool
same_include(const Candidate *c, const AttrNumber *include, int ninclude)
{
	if (c->ninclude != ninclude)
		return false;
	for (int i = 0; i < ninclude; i++)
		if (c->include[i] != include[i])
			return false;
	return true;
}

/*
 * Add a candidate unless an existing index or another candidate is the
 * same.  include and predicate (varno 1) make covering and partial
 * variants of the plain index on keys.
 */
static void
add_variant(RelOptInfo *rel, Oid relid, SdpHypoKey *keys, int nkeys,
			AttrNumber *include, int ninclude, List *predicate)
{
	ListCell   *lc;
	Candidate  *c;
	MemoryContext old;

	if (nkeys == 0 || served_by_existing(rel, keys, nkeys) ||
		(get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE &&
		 served_by_partitioned_index(relid, keys, nkeys)))
		return;
	foreach(lc, all_candidates)
	{
		Candidate  *other = lfirst(lc);
		bool		same = other->relid == relid && other->nkeys == nkeys &&
			same_include(other, include, ninclude) && equal(other->predicate, predicate);

		for (int i = 0; same && i < nkeys; i++)
			same = same_key(&other->keys[i], &keys[i]);
		if (same)
			return;
	}
	old = MemoryContextSwitchTo(advisor_cxt);
	c = palloc0(sizeof(Candidate));
	c->relid = relid;
	c->nkeys = nkeys;
	for (int i = 0; i < nkeys; i++)
	{
		c->keys[i].attnum = keys[i].attnum;
		c->keys[i].expr = copyObject(keys[i].expr);
	}
	c->ninclude = ninclude;
	memcpy(c->include, include, sizeof(AttrNumber) * ninclude);
	c->predicate = copyObject(predicate);
	c->fake_oid = ADVISOR_FAKE_OID_BASE + list_length(all_candidates);
	all_candidates = lappend(all_candidates, c);
	MemoryContextSwitchTo(old);
}

static void
add_candidate(RelOptInfo *rel, Oid relid, SdpHypoKey *keys, int nkeys)
{
	add_variant(rel, relid, keys, nkeys, NULL, 0, NIL);
}

/* IS [NOT] NULL on a column, or a boolean column: a partial index's predicate */
static bool
constant_test(Node *clause, Index varno)
{
	Node	   *arg;
	Var		   *var;

	if (IsA(clause, NullTest))
		arg = ((NullTest *) clause)->argisrow ? NULL : (Node *) ((NullTest *) clause)->arg;
	else if (is_notclause(clause))
		arg = (Node *) get_notclausearg((Expr *) clause);	/* NOT flag */
	else
		arg = clause;			/* flag */
	if (arg == NULL || !IsA(arg, Var))
		return false;
	var = (Var *) arg;
	if (var->varno != varno || var->varattno <= 0 || var->varlevelsup != 0)
		return false;
	return IsA(clause, NullTest) || var->vartype == BOOLOID;
}

/*
 * Variants of the composite index for one table of a statement: partial
 * on the statement's constant tests, covering (INCLUDE) when the statement
 * needs only a few more plain columns of the table.  Not for partitioned
 * tables, whose partitions would need the predicate's columns mapped.
 */
static void
add_variants(PlannerInfo *root, RelOptInfo *rel, Index rti, Oid relid,
			 SdpHypoKey *keys, int nkeys)
{
	List	   *predicate = NIL;
	List	   *tests = NIL;	/* the same, as the statement has them */
	Bitmapset  *needed = NULL;
	AttrNumber	include[ADVISOR_MAX_INCLUDE];
	int			ninclude = 0;
	bool		covering = true;
	ListCell   *lc;
	int			x = -1;

	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (constant_test((Node *) ri->clause, rti))
		{
			Node	   *test = copyObject((Node *) ri->clause);

			ChangeVarNodes(test, rti, 1, 0);
			predicate = lappend(predicate, test);
			tests = lappend(tests, ri->clause);
		}
	}
	/* worth it only when it leaves out most of the table */
	if (predicate != NIL &&
		clauselist_selectivity(root, tests, rti, JOIN_INNER, NULL) > ADVISOR_PARTIAL_MAX_FRACTION)
		predicate = NIL;
	if (predicate != NIL)
		add_variant(rel, relid, keys, nkeys, NULL, 0, predicate);

	/* the columns an index-only scan would return; a predicate answers its own tests */
	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (predicate == NIL || !list_member_ptr(tests, ri->clause))
			pull_varattnos((Node *) ri->clause, rti, &needed);
	}

	pull_varattnos((Node *) rel->reltarget->exprs, rti, &needed);
	while ((x = bms_next_member(needed, x)) >= 0)
	{
		AttrNumber	attnum = x + FirstLowInvalidHeapAttributeNumber;
		SdpHypoKey	column = {attnum, NULL};

		if (attnum <= 0)
			covering = false;	/* a system column or the whole row */
		else if (!has_key(keys, nkeys, &column))
		{
			if (ninclude == ADVISOR_MAX_INCLUDE)
				covering = false;
			else
				include[ninclude++] = attnum;
		}
	}
	for (int i = 0; i < nkeys; i++)
		covering = covering && keys[i].attnum > 0;
	if (covering && ninclude > 0)
		add_variant(rel, relid, keys, nkeys, include, ninclude, predicate);
}

/* ORDER BY keys of a LIMIT query, when they are all columns of rel. */
static int
sort_keys(PlannerInfo *root, Index varno, SdpHypoKey *keys)
{
	ListCell   *lc;
	int			n = 0;

	if (root->parse->limitCount == NULL || root->query_pathkeys == NIL)
		return 0;
	foreach(lc, root->query_pathkeys)
	{
		PathKey    *pk = lfirst(lc);
		ListCell   *mc;
		bool		found = false;

		foreach(mc, pk->pk_eclass->ec_members)
		{
			EquivalenceMember *em = lfirst(mc);

			if (!found && n < ADVISOR_MAX_COMPOSITE &&
				operand_key(root, (Node *) em->em_expr, varno, &keys[n]) &&
				keys[n].attnum > 0)
				found = true;
		}
		if (!found)
			return 0;
		n++;
	}
	return n;
}

static void
collect_candidates(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	SdpHypoKey	eq[ADVISOR_MAX_COMPOSITE * 2];
	SdpHypoKey	range[ADVISOR_MAX_COMPOSITE];
	SdpHypoKey	sorted[ADVISOR_MAX_COMPOSITE];
	SdpHypoKey	composite[ADVISOR_MAX_COMPOSITE];
	int			neq = 0,
				nrange = 0,
				nsorted,
				ncomp = 0;
	ListCell   *lc;
	Oid			relid = rte->relid;

	/* a partitioned table's size is its partitions' */
	if (IsCatalogRelationOid(relid) ||
		(rte->relkind != RELKIND_PARTITIONED_TABLE &&
		 rel->pages < (BlockNumber) sdp_advisor_min_table_pages))
		return;

	/* restrictions: column op constant-or-parameter */
	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);
		Node	   *clause = (Node *) ri->clause;
		SdpHypoKey	key;
		int			strategy = 0;

		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;
			Node	   *l = linitial(op->args);
			Node	   *r = lsecond(op->args);

			if (operand_key(root, l, rti, &key) && pseudo_constant(r))
				strategy = btree_strategy(op->opno, l, false);
			else if (operand_key(root, r, rti, &key) && pseudo_constant(l))
				strategy = btree_strategy(op->opno, r, true);
		}
		else if (IsA(clause, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) clause)->useOr)
		{
			ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;

			if (operand_key(root, linitial(sa->args), rti, &key) &&
				pseudo_constant(lsecond(sa->args)) &&
				btree_strategy(sa->opno, linitial(sa->args), false) == BTEqualStrategyNumber)
				strategy = BTEqualStrategyNumber;
		}
		if (strategy == BTEqualStrategyNumber && neq < lengthof(eq) && !has_key(eq, neq, &key))
			eq[neq++] = key;
		else if (strategy != 0 && strategy != BTEqualStrategyNumber &&
				 nrange < lengthof(range) && !has_key(range, nrange, &key))
			range[nrange++] = key;
	}

	/* join keys: equivalence classes joining a column of rel to another rel */
	foreach(lc, root->eq_classes)
	{
		EquivalenceClass *ec = lfirst(lc);
		ListCell   *mc;
		SdpHypoKey	key;
		bool		mine = false,
					other = false;

		if (ec->ec_has_const || list_length(ec->ec_members) < 2)
			continue;
		foreach(mc, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(mc);

			if (em->em_is_child)
				continue;
			if (!mine && bms_equal(em->em_relids, rel->relids) &&
				operand_key(root, (Node *) em->em_expr, rti, &key) && key.attnum > 0)
				mine = true;
			else if (!bms_overlap(em->em_relids, rel->relids) && !bms_is_empty(em->em_relids))
				other = true;
		}
		if (mine && other)
			add_candidate(rel, relid, &key, 1);
	}

	/* join clauses outside equivalence classes (outer joins): col = other.col */
	foreach(lc, rel->joininfo)
	{
		RestrictInfo *ri = lfirst(lc);
		OpExpr	   *op = (OpExpr *) ri->clause;
		SdpHypoKey	key;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		for (int side = 0; side < 2; side++)
		{
			Node	   *mine = list_nth(op->args, side);
			Node	   *theirs = list_nth(op->args, 1 - side);

			if (operand_key(root, mine, rti, &key) && key.attnum > 0 &&
				!bms_is_member(rti, pull_varnos(root, theirs)) &&
				!bms_is_empty(pull_varnos(root, theirs)) &&
				btree_strategy(op->opno, mine, side == 1) == BTEqualStrategyNumber)
				add_candidate(rel, relid, &key, 1);
		}
	}

	/* each restricted column or expression alone */
	for (int i = 0; i < neq; i++)
		add_candidate(rel, relid, &eq[i], 1);
	for (int i = 0; i < nrange; i++)
		add_candidate(rel, relid, &range[i], 1);

	/* equality columns, then one range column or the ORDER BY columns */
	nsorted = sort_keys(root, rti, sorted);
	for (int i = 0; i < neq && ncomp < ADVISOR_MAX_COMPOSITE; i++)
		composite[ncomp++] = eq[i];
	if (nrange > 0 && ncomp < ADVISOR_MAX_COMPOSITE && !has_key(composite, ncomp, &range[0]))
		composite[ncomp++] = range[0];
	else if (nrange == 0)
		for (int i = 0; i < nsorted && ncomp < ADVISOR_MAX_COMPOSITE; i++)
			if (!has_key(composite, ncomp, &sorted[i]))
				composite[ncomp++] = sorted[i];
	if (ncomp > 1)
		add_candidate(rel, relid, composite, ncomp);
	else if (ncomp == 1 && neq == 0 && nrange == 0)
		add_candidate(rel, relid, composite, 1);	/* ORDER BY x LIMIT n */
	if (ncomp > 0 && rte->relkind != RELKIND_PARTITIONED_TABLE &&
		!rte->inh)
		add_variants(root, rel, rti, relid, composite, ncomp);
}

static void
advisor_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti,
						 RangeTblEntry *rte)
{
	if (prev_set_rel_pathlist)
		prev_set_rel_pathlist(root, rel, rti, rte);
	if (collecting_candidates && rte->rtekind == RTE_RELATION && rel->reloptkind == RELOPT_BASEREL)
	{
		MemoryContext old = MemoryContextSwitchTo(advisor_cxt);

		collecting_for->relids = list_append_unique_oid(collecting_for->relids, rte->relid);
		MemoryContextSwitchTo(old);
		collect_candidates(root, rel, rti, rte);
	}
}

/* ----------------------------------------------------------------------
 * What-if planning
 * ----------------------------------------------------------------------
 */

static void
advisor_get_relation_info(PlannerInfo *root, Oid relid, bool inhparent,
						  RelOptInfo *rel)
{
	ListCell   *lc;
	List	   *ancestors = NIL;
	bool		ancestors_known = false;

	if (prev_get_relation_info)
		prev_get_relation_info(root, relid, inhparent, rel);
	if (inhparent)
		return;
	foreach(lc, injected_candidates)
	{
		Candidate  *c = lfirst(lc);
		SdpHypoKey	keys[ADVISOR_MAX_COMPOSITE];
		SdpHypoIndex def;
		IndexOptInfo *info;
		bool		usable = true;

		if (c->relid != relid)
		{
			/* a partition of the candidate's table: same columns by name */
			if (c->ninclude > 0 || c->predicate != NIL)
				continue;		/* not made for partitioned tables */
			if (!ancestors_known)
			{
				ancestors = get_rel_relispartition(relid) ? get_partition_ancestors(relid) : NIL;
				ancestors_known = true;
			}
			if (!list_member_oid(ancestors, c->relid))
				continue;
			for (int i = 0; i < c->nkeys && usable; i++)
			{
				keys[i].expr = NULL;
				keys[i].attnum = c->keys[i].attnum > 0 ?
					get_attnum(relid, get_attname(c->relid, c->keys[i].attnum, false)) : 0;
				usable = keys[i].attnum > 0;
			}
		}
		else
			memcpy(keys, c->keys, sizeof(SdpHypoKey) * c->nkeys);
		if (!usable)
			continue;
		def.nkeys = c->nkeys;
		def.keys = keys;
		def.ninclude = c->ninclude;
		def.include = c->include;
		def.predicate = c->predicate;
		info = sdp_hypo_index_info(root, rel, relid, c->fake_oid, &def);
		if (info == NULL)
			continue;
		rel->indexlist = lcons(info, rel->indexlist);
		c->est_pages += info->pages;
	}
}

static bool
plan_uses(Plan *plan, Oid indexoid)
{
	ListCell   *lc;
	List	   *children = NIL;

	if (plan == NULL)
		return false;
	switch (nodeTag(plan))
	{
		case T_IndexScan:
			if (((IndexScan *) plan)->indexid == indexoid)
				return true;
			break;
		case T_IndexOnlyScan:
			if (((IndexOnlyScan *) plan)->indexid == indexoid)
				return true;
			break;
		case T_BitmapIndexScan:
			if (((BitmapIndexScan *) plan)->indexid == indexoid)
				return true;
			break;
		case T_Append:
			children = ((Append *) plan)->appendplans;
			break;
		case T_MergeAppend:
			children = ((MergeAppend *) plan)->mergeplans;
			break;
		case T_BitmapAnd:
			children = ((BitmapAnd *) plan)->bitmapplans;
			break;
		case T_BitmapOr:
			children = ((BitmapOr *) plan)->bitmapplans;
			break;
		case T_SubqueryScan:
			return plan_uses(((SubqueryScan *) plan)->subplan, indexoid);
		case T_ModifyTable:
		default:
			break;
	}
	foreach(lc, children)
		if (plan_uses(lfirst(lc), indexoid))
			return true;
	return plan_uses(plan->lefttree, indexoid) || plan_uses(plan->righttree, indexoid);
}

/*
 * Plan a workload statement with the active hypothetical indexes; returns
 * its estimated total cost and whether the plan uses index c (if given).
 */
static double
what_if(WorkItem *w, Candidate *c, bool *used, MemoryContext scratch)
{
	MemoryContext old = MemoryContextSwitchTo(scratch);
	PlannedStmt *stmt;
	double		cost;
	ListCell   *lc;
	SdpSavedUser saved;

	foreach(lc, injected_candidates)
		((Candidate *) lfirst(lc))->est_pages = 0;
	/* planning folds constant calls: they run with the statement's user's rights */
	sdp_become_role(w->userid, w->search_path, &saved);
	stmt = pg_plan_query(copyObject(w->query), w->text, CURSOR_OPT_PARALLEL_OK, NULL);
	sdp_restore_user(&saved);
	cost = stmt->planTree->total_cost;
	if (used)
	{
		*used = c != NULL && plan_uses(stmt->planTree, c->fake_oid);
		foreach(lc, stmt->subplans)
			*used = *used || (c != NULL && plan_uses(lfirst(lc), c->fake_oid));
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch);
	return cost;
}

/* ----------------------------------------------------------------------
 * The workload
 * ----------------------------------------------------------------------
 */

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

	collecting_candidates = true;
	collecting_for = w;
	PG_TRY();
	{
		w->base_cost = what_if(w, NULL, NULL, a->scratch);
	}
	PG_FINALLY();
	{
		collecting_candidates = false;
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

static bool
item_reads(WorkItem *w, Oid relid)
{
	ListCell   *lc;

	if (list_member_oid(w->relids, relid))
		return true;
	/* a statement on a partition of the table */
	foreach(lc, w->relids)
		if (get_rel_relispartition(lfirst_oid(lc)) &&
			list_member_oid(get_partition_ancestors(lfirst_oid(lc)), relid))
			return true;
	return false;
}

/*
 * The statement's cost with the active indexes when its plan uses c; -1
 * when it does not read c's table or its plan does not use c.
 */
static double
cost_using(WorkItem *w, Candidate *c, MemoryContext scratch)
{
	bool		used;
	double		cost;

	if (w->query == NULL || !item_reads(w, c->relid))
		return -1;
	cost = what_if(w, c, &used, scratch);
	return used ? cost : -1;
}

static bool
keys_lead(Candidate *inner, Candidate *outer)
{
	if (inner->relid != outer->relid || inner->nkeys > outer->nkeys)
		return false;
	for (int i = 0; i < inner->nkeys; i++)
		if (!same_key(&inner->keys[i], &outer->keys[i]))
			return false;
	return true;
}

/* Does chosen serve what c would?  A partial index only its own predicate. */
static bool
serves(Candidate *chosen, Candidate *c)
{
	return keys_lead(c, chosen) &&
		(chosen->predicate == NIL || equal(chosen->predicate, c->predicate));
}

/* The plain index a covering or partial candidate is a variant of. */
static Candidate *
plain_of(Candidate *variant)
{
	ListCell   *lc;

	foreach(lc, all_candidates)
	{
		Candidate  *c = lfirst(lc);

		if (c != variant && c->ninclude == 0 && c->predicate == NIL &&
			c->nkeys == variant->nkeys && keys_lead(c, variant))
			return c;
	}
	return NULL;
}

/*
 * The index as words (columns) and as what follows ON table in CREATE
 * INDEX (definition): "user_id INCLUDE (status) WHERE read_at IS NULL" and
 * "(user_id) INCLUDE (status) WHERE (read_at IS NULL)".
 */
static void
describe_candidate(Candidate *c, char **columns, char **definition)
{
	StringInfoData keys;
	StringInfoData include;
	char	   *predicate = NULL;
	List	   *context = deparse_context_for(get_rel_name(c->relid), c->relid);

	initStringInfo(&keys);
	for (int i = 0; i < c->nkeys; i++)
	{
		if (i > 0)
			appendStringInfoString(&keys, ", ");
		if (c->keys[i].attnum > 0)
			appendStringInfoString(&keys,
								   quote_identifier(get_attname(c->relid, c->keys[i].attnum, false)));
		else
			appendStringInfo(&keys, "(%s)",
							 deparse_expression(c->keys[i].expr, context, false, false));
	}
	initStringInfo(&include);
	for (int i = 0; i < c->ninclude; i++)
		appendStringInfo(&include, "%s%s", i == 0 ? " INCLUDE (" : ", ",
						 quote_identifier(get_attname(c->relid, c->include[i], false)));
	if (c->ninclude > 0)
		appendStringInfoChar(&include, ')');
	if (c->predicate != NIL)
		predicate = deparse_expression((Node *) make_ands_explicit(c->predicate),
									   context, false, false);
	*columns = psprintf("%s%s%s%s", keys.data, include.data,
						predicate ? " WHERE " : "", predicate ? predicate : "");
	*definition = psprintf("(%s)%s%s%s", keys.data, include.data,
						   predicate ? " WHERE " : "", predicate ? predicate : "");
}

static void
report_candidate(ReturnSetInfo *rsinfo, Candidate *c, WorkItem *items, int n,
	   MemoryContext scratch)
{
	double		before = 0,
				after = 0,
				total_ms = 0,
				saved_ms = 0,
				best_ms = -1;
	int64		calls = 0;
	int64		pages = 0;
	ArrayBuildState *ids = initArrayResult(INT8OID, CurrentMemoryContext, false);
	char	   *sample = NULL;
	Datum		values[12];
	bool		nulls[12] = {0};
	char	   *columns;
	char	   *definition;

	for (int i = 0; i < n; i++)
	{
		WorkItem   *w = &items[i];
		double		cost = cost_using(w, c, scratch);

		pages = Max(pages, c->est_pages);
		if (cost < 0)
			continue;
		before += w->base_cost;
		after += cost;
		if (w->scan_only)
			continue;			/* its statement is counted */
		calls += w->calls;
		total_ms += w->total_ms;
		saved_ms += w->total_ms * Max(w->base_cost - cost, 0) / Max(w->base_cost, 1e-9);
		accumArrayResult(ids, Int64GetDatum(w->queryid), false, INT8OID, CurrentMemoryContext);
		if (w->total_ms > best_ms)
		{
			best_ms = w->total_ms;
			sample = w->text;
		}
	}
	if (sample == NULL)
		return;
	describe_candidate(c, &columns, &definition);
	values[0] = ObjectIdGetDatum(c->relid);
	values[1] = CStringGetTextDatum(columns);
	values[2] = Float8GetDatum(before);
	values[3] = Float8GetDatum(after);
	values[4] = Float8GetDatum(before > 0 ? 100.0 * (before - after) / before : 0);
	values[5] = makeArrayResult(ids, CurrentMemoryContext);
	values[6] = CStringGetTextDatum(sample);
	values[7] = Int64GetDatum(calls);
	values[8] = Float8GetDatum(total_ms);
	values[9] = Int64GetDatum(pages * BLCKSZ);
	values[10] = Float8GetDatum(saved_ms);
	/* 1.1's SQL declares no definition column */
	values[11] = CStringGetTextDatum(definition);
	Assert(rsinfo->setDesc->natts == 11 || rsinfo->setDesc->natts == 12);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Whether c may be chosen this round, its gain set: a covering variant
 * only if it saves ADVISOR_COVERING_MARGIN times what its plain index
 * saves; a plain index not if a partial variant saves nearly as much
 * (the partial one is smaller and cheaper to maintain).
 */
static bool
eligible(Candidate *c)
{
	Candidate  *plain;
	ListCell   *lc;

	if (c->round_gain <= 0)
		return false;
	if (c->ninclude > 0 || c->predicate != NIL)
	{
		plain = plain_of(c);
		if (plain == NULL)
			return true;
		return c->round_gain >= (c->ninclude > 0 ? ADVISOR_COVERING_MARGIN :
								 ADVISOR_PARTIAL_MARGIN) * plain->round_gain;
	}
	foreach(lc, all_candidates)
	{
		Candidate  *partial = lfirst(lc);

		if (partial->predicate != NIL && partial->ninclude == 0 &&
			plain_of(partial) == c &&
			partial->round_gain >= ADVISOR_PARTIAL_MARGIN * c->round_gain)
			return false;
	}
	return true;
}

/*
 * The greedy choice; returns the chosen candidates in order.  Covering and
 * partial variants compete with their plain index as eligible() says: a
 * wider or narrower index has costs the planner's estimate does not see.
 */
static List *
choose_greedily(WorkItem *items, int n, double min_pct, MemoryContext scratch)
{
	List	   *chosen = NIL;

	for (int round = 0; round < ADVISOR_MAX_ROUNDS; round++)
	{
		Candidate  *best = NULL;
		double		best_gain = 0;
		ListCell   *lc;

		foreach(lc, all_candidates)
		{
			Candidate  *c = lfirst(lc);
			double		before = 0,
						after = 0,
						gain = 0;

			c->round_gain = 0;
			if (c->chosen || c->dropped)
				continue;
			CHECK_FOR_INTERRUPTS();
			injected_candidates = lappend(list_copy(chosen), c);
			for (int i = 0; i < n; i++)
			{
				WorkItem   *w = &items[i];
				double		cost = cost_using(w, c, scratch);

				if (cost < 0)
					continue;
				before += w->cur_cost;
				after += cost;
				if (!w->scan_only)
					gain += w->total_ms * Max(w->cur_cost - cost, 0) / Max(w->base_cost, 1e-9);
			}
			if (before > 0 && 100.0 * (before - after) / before >= min_pct)
				c->round_gain = gain;
			if (message_level_is_interesting(DEBUG1))
			{
				char	   *columns;
				char	   *definition;

				describe_candidate(c, &columns, &definition);
				elog(DEBUG1, "index advisor round %d: %s %s saves %.3f ms, cost %.1f -> %.1f",
					 round + 1, get_rel_name(c->relid), definition, gain, before, after);
			}
		}
		foreach(lc, all_candidates)
		{
			Candidate  *c = lfirst(lc);

			if (eligible(c) && c->round_gain > best_gain)
			{
				best = c;
				best_gain = c->round_gain;
			}
		}
		if (best == NULL)
			break;
		best->chosen = true;
		chosen = lappend(chosen, best);
		injected_candidates = chosen;
		for (int i = 0; i < n; i++)
			if (items[i].query != NULL && item_reads(&items[i], best->relid))
				items[i].cur_cost = what_if(&items[i], NULL, NULL, scratch);
		/* an index that leads with these columns serves them */
		foreach(lc, all_candidates)
		{
			Candidate  *c = lfirst(lc);

			if (!c->chosen && serves(best, c))
				c->dropped = true;
		}
	}
	injected_candidates = chosen;
	return chosen;
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
	uint64		n;
	char	  **rows;
	int			nestlevel;
	List	   *observed;
	int			nobserved;
	uint64		nprofiled;
	char	   *session_search_path;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(ADVISOR_MAX_QUERIES)};

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
	/* each statement is planned as the role that spent most time on it */
	n = sdp_spi_exec("SELECT queryid::pg_catalog.text, query, "
					 "pg_catalog.sum(calls)::pg_catalog.text, "
					 "pg_catalog.sum(total_exec_time)::pg_catalog.text, "
					 "((pg_catalog.array_agg(userid ORDER BY total_exec_time DESC))[1])::pg_catalog.text "
					 "FROM sdp.query_stats "
					 /* the extension's own statements are not the workload */
					 "WHERE application_name IS DISTINCT FROM 'smart_dairy_perf maintenance' "
					 "AND dbid = (SELECT oid FROM pg_catalog.pg_database "
					 "              WHERE datname = pg_catalog.current_database()) "
					 "AND query OPERATOR(pg_catalog.~*) '^\\s*(select|with|update|delete)\\M' "
					 "AND query OPERATOR(pg_catalog.!~) '\\msdp\\.' "
					 "GROUP BY queryid, query ORDER BY pg_catalog.sum(total_exec_time) DESC LIMIT $1",
					 1, types, values, NULL);
	rows = sdp_spi_copy_rows(5);

	keep = AllocSetContextCreate(CurrentMemoryContext, "sdp advisor", ALLOCSET_DEFAULT_SIZES);
	advisor_cxt = keep;
	scratch = AllocSetContextCreate(CurrentMemoryContext, "sdp advisor planning",
									ALLOCSET_DEFAULT_SIZES);
	observed = sdp_observed_predicates();
	list_sort(observed, heavier_predicate);
	nobserved = Min(list_length(observed), ADVISOR_MAX_QUERIES);
	items = MemoryContextAllocZero(keep, sizeof(WorkItem) * (n + nobserved + 1));
	for (uint64 i = 0; i < n; i++)
	{
		items[i].queryid = strtoll(rows[i * 5], NULL, 10);
		items[i].text = MemoryContextStrdup(keep, rows[i * 5 + 1]);
		items[i].calls = strtoll(rows[i * 5 + 2], NULL, 10);
		items[i].total_ms = strtod(rows[i * 5 + 3], NULL);
		items[i].userid = (Oid) strtoul(rows[i * 5 + 4], NULL, 10);
		items[i].search_path = session_search_path;
	}

	/* the advisor's own parsing is not workload */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("smart_dairy_perf.enabled", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	all_candidates = NIL;
	injected_candidates = NIL;
	prev_get_relation_info = get_relation_info_hook;
	prev_set_rel_pathlist = set_rel_pathlist_hook;
	get_relation_info_hook = advisor_get_relation_info;
	set_rel_pathlist_hook = advisor_set_rel_pathlist;
	PG_TRY();
	{
		List	   *chosen;
		ListCell   *lc;

		for (uint64 i = 0; i < n; i++)
			prepare_in_subtransaction(&items[i], keep, scratch);
		/*
		 * Observed predicates: the statements the profile lacks, and the
		 * scans of profiled ones (scan_only: they count toward whether an
		 * index is worth it, not toward the time it saves, which is the
		 * statement's).
		 */
		nprofiled = n;
		for (int j = 0; j < nobserved; j++)
		{
			SdpObservedPredicate *o = list_nth(observed, j);
			bool		known = false;

			for (uint64 i = 0; i < nprofiled && !known; i++)
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
		chosen = choose_greedily(items, (int) n, min_pct, scratch);
		foreach(lc, chosen)
			report_candidate(rsinfo, lfirst(lc), items, (int) n, scratch);
	}
	PG_FINALLY();
	{
		get_relation_info_hook = prev_get_relation_info;
		set_rel_pathlist_hook = prev_set_rel_pathlist;
		all_candidates = NIL;
		injected_candidates = NIL;
		collecting_candidates = false;
		AtEOXact_GUC(true, nestlevel);
	}
	PG_END_TRY();

	SPI_finish();
	MemoryContextSwitchTo(callercxt);
	return (Datum) 0;
}
