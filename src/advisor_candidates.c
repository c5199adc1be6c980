/*-------------------------------------------------------------------------
 *
 * advisor_candidates.c
 *	  The index advisor's first phase: candidate indexes, collected by a
 *	  set_rel_pathlist hook while the workload (index_advisor.c) is planned
 *	  for the first time.
 *
 *	  Per table, the columns compared with constants or parameters
 *	  (equality columns first, then one range column or the ORDER BY
 *	  columns of a LIMIT query), each such column alone, join keys
 *	  (equivalence classes, and outer-join clauses), and expressions over
 *	  one column with immutable functions (lower(email)); and two variants
 *	  of the composite index: partial on the statement's IS [NOT] NULL and
 *	  boolean tests, and, for a statement planned from its sample (real
 *	  constants), on its column = constant tests (status = 'pending'),
 *	  keyed on the other columns when there are any (the statement is then
 *	  flagged constants_matter, as it is for a range with a constant
 *	  bound: index_advisor.c plans its sample rather than its normalized
 *	  text); covering with the few more columns an index-only scan needs.
 *	  A candidate whose columns lead an existing valid index, on a
 *	  catalog, or on a table smaller than
 *	  smart_dairy_perf.advisor_min_table_pages is dropped.
 *
 *	  Owns sdp_advisor_candidates (in sdp_advisor_cxt, the run's context)
 *	  and the hook, installed only during sdp._index_advice().  Reads the
 *	  planner's structures and the catalog caches; no SPI, no locks of its
 *	  own (the planner holds the relations' locks).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "advisor.h"
#include "sdp_config.h"

List	   *sdp_advisor_candidates = NIL;
WorkItem   *sdp_advisor_collecting_for = NULL;
MemoryContext sdp_advisor_cxt = NULL;

static set_rel_pathlist_hook_type prev_set_rel_pathlist = NULL;

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
contains_param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return true;
	return expression_tree_walker(node, contains_param_walker, context);
}

/* Does the expression use a parameter ($n, or a PL/pgSQL variable)? */
static bool
contains_param(Node *node)
{
	return contains_param_walker(node, NULL);
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

/* Same column, or equal expression.  No lock, no SPI. */
bool
sdp_advisor_same_key(const SdpHypoKey *a, const SdpHypoKey *b)
{
	return a->attnum == b->attnum &&
		(a->attnum != 0 || equal(a->expr, b->expr));
}

static bool
has_key(SdpHypoKey *keys, int n, const SdpHypoKey *k)
{
	for (int i = 0; i < n; i++)
		if (sdp_advisor_same_key(&keys[i], k))
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
static Candidate *
add_variant(RelOptInfo *rel, Oid relid, SdpHypoKey *keys, int nkeys,
			AttrNumber *include, int ninclude, List *predicate)
{
	ListCell   *lc;
	Candidate  *c;
	MemoryContext old;

	if (nkeys == 0 || served_by_existing(rel, keys, nkeys) ||
		(get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE &&
		 served_by_partitioned_index(relid, keys, nkeys)))
		return NULL;
	foreach(lc, sdp_advisor_candidates)
	{
		Candidate  *other = lfirst(lc);
		bool		same = other->relid == relid && other->nkeys == nkeys &&
			same_include(other, include, ninclude) && equal(other->predicate, predicate);

		for (int i = 0; same && i < nkeys; i++)
			same = sdp_advisor_same_key(&other->keys[i], &keys[i]);
		if (same)
			return other;
	}
	old = MemoryContextSwitchTo(sdp_advisor_cxt);
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
	c->fake_oid = ADVISOR_FAKE_OID_BASE + list_length(sdp_advisor_candidates);
	sdp_advisor_candidates = lappend(sdp_advisor_candidates, c);
	MemoryContextSwitchTo(old);
	return c;
}

static void
add_candidate(RelOptInfo *rel, Oid relid, SdpHypoKey *keys, int nkeys)
{
	(void) add_variant(rel, relid, keys, nkeys, NULL, 0, NIL);
}

/*
 * column = a constant of the statement's text (not a parameter), with the
 * btree equality of the column's type: *attnum gets the column.  With
 * root, only on a column of few distinct values (a state, a kind, a flag:
 * ADVISOR_PARTIAL_MAX_DISTINCT), where a constant is part of the
 * application's code rather than its input: a sample's customer_id = 4711
 * stands for any customer, its status = 'pending' for the pending ones.
 */
static bool
equals_constant(PlannerInfo *root, Node *clause, Index varno, AttrNumber *attnum)
{
	VariableStatData vardata;
	double		ndistinct;
	bool		isdefault;
	OpExpr	   *op = (OpExpr *) clause;
	Node	   *l;
	Node	   *r;

	if (!IsA(clause, OpExpr) || list_length(op->args) != 2)
		return false;
	l = linitial(op->args);
	r = lsecond(op->args);
	while (IsA(l, RelabelType))
		l = (Node *) ((RelabelType *) l)->arg;
	if (IsA(l, Const))
	{
		Node	   *t = l;

		l = r;
		r = t;
		while (IsA(l, RelabelType))
			l = (Node *) ((RelabelType *) l)->arg;
	}
	if (!IsA(l, Var) || !IsA(r, Const) || ((Const *) r)->constisnull)
		return false;
	if (((Var *) l)->varno != varno || ((Var *) l)->varattno <= 0 ||
		((Var *) l)->varlevelsup != 0)
		return false;
	if (btree_strategy(op->opno, l, false) != BTEqualStrategyNumber)
		return false;
	*attnum = ((Var *) l)->varattno;
	if (root == NULL)
		return true;
	examine_variable(root, l, varno, &vardata);
	ndistinct = get_variable_numdistinct(&vardata, &isdefault);
	ReleaseVariableStats(vardata);
	return !isdefault && ndistinct <= ADVISOR_PARTIAL_MAX_DISTINCT;
}

/*
 * IS [NOT] NULL on a column, or a boolean column: a partial index's
 * predicate; with real constants (a statement planned from its sample)
 * also column = constant.
 */
static bool
constant_test(PlannerInfo *root, Node *clause, Index varno, bool real_constants)
{
	Node	   *arg;
	Var		   *var;
	AttrNumber	attnum;

	if (real_constants && equals_constant(root, clause, varno, &attnum))
		return true;
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
	bool		real_constants = sdp_advisor_collecting_for != NULL &&
		sdp_advisor_collecting_for->from_sample;
	SdpHypoKey	partial_keys[ADVISOR_MAX_COMPOSITE];
	int			npartial_keys = 0;
	ListCell   *lc;
	int			x = -1;

	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (constant_test(root, (Node *) ri->clause, rti, real_constants))
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
	{
		Candidate  *plain = NULL;
		Candidate  *partial;

		if (real_constants)
			foreach(lc, predicate)
			{
				AttrNumber	attnum;

				if (equals_constant(NULL, lfirst(lc), 1, &attnum))
					sdp_advisor_collecting_for->constants_matter = true;
			}

		/* keyed on the columns the predicate does not fix, if any */
		for (int i = 0; i < nkeys; i++)
		{
			bool		fixed = false;
			AttrNumber	attnum;

			foreach(lc, predicate)
				if (keys[i].attnum > 0 && equals_constant(NULL, lfirst(lc), 1, &attnum) &&
					attnum == keys[i].attnum)
					fixed = true;
			if (!fixed)
				partial_keys[npartial_keys++] = keys[i];
		}
		if (npartial_keys == 0)
		{
			memcpy(partial_keys, keys, sizeof(SdpHypoKey) * nkeys);
			npartial_keys = nkeys;
		}
		else if (npartial_keys < nkeys)
		{
			/* the plain index on all keys, for eligible() to weigh it against */
			foreach(lc, sdp_advisor_candidates)
			{
				Candidate  *c = lfirst(lc);
				bool		same = c->relid == relid && c->nkeys == nkeys &&
					c->ninclude == 0 && c->predicate == NIL;

				for (int i = 0; same && i < nkeys; i++)
					same = sdp_advisor_same_key(&c->keys[i], &keys[i]);
				if (same)
					plain = c;
			}
		}
		partial = add_variant(rel, relid, partial_keys, npartial_keys, NULL, 0, predicate);
		if (partial != NULL && plain != NULL && partial->variant_of == NULL)
			partial->variant_of = plain;
	}

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
		/* a sample's range bound is a real value: its selectivity is real */
		if (strategy != 0 && strategy != BTEqualStrategyNumber &&
			sdp_advisor_collecting_for != NULL && sdp_advisor_collecting_for->from_sample &&
			!contains_param(clause))
			sdp_advisor_collecting_for->constants_matter = true;
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
	if (sdp_advisor_collecting_for != NULL && rte->rtekind == RTE_RELATION &&
		rel->reloptkind == RELOPT_BASEREL)
	{
		MemoryContext old = MemoryContextSwitchTo(sdp_advisor_cxt);

		sdp_advisor_collecting_for->relids =
			list_append_unique_oid(sdp_advisor_collecting_for->relids, rte->relid);
		MemoryContextSwitchTo(old);
		collect_candidates(root, rel, rti, rte);
	}
}

/*
 * Install the set_rel_pathlist hook for the advisor's run (it collects only
 * while sdp_advisor_collecting_for is set); sdp_advisor_collect_uninstall()
 * puts the previous one back, in the same PG_FINALLY.
 */
void
sdp_advisor_collect_install(void)
{
	prev_set_rel_pathlist = set_rel_pathlist_hook;
	set_rel_pathlist_hook = advisor_set_rel_pathlist;
}

/* Put back the previous set_rel_pathlist hook; collect nothing more. */
void
sdp_advisor_collect_uninstall(void)
{
	set_rel_pathlist_hook = prev_set_rel_pathlist;
	sdp_advisor_collecting_for = NULL;
}
