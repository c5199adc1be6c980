/*-------------------------------------------------------------------------
 *
 * hypothetical_index.c
 *	  Hypothetical btree indexes for what-if planning: an index that exists
 *	  only as an IndexOptInfo the planner finds in a relation's index list.
 *	  Its size and height are estimated like a real btree's (tuples of the
 *	  table, or of the predicate for a partial index, key and INCLUDE
 *	  widths from the column statistics, a 90 % fill factor), so
 *	  btcostestimate prices it as it would the built index.  A partial
 *	  index's predicate is proven against each query by the planner itself
 *	  (check_index_predicates), as for a real one.
 *
 *	  Nothing is written to the catalogs; the indexes are visible only to
 *	  planning done by this backend while index_advisor.c has the
 *	  get_relation_info hook installed.  Also here: whether a plan uses
 *	  an index (real or hypothetical), for the advisor and for
 *	  index_validation.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/amapi.h"
#include "catalog/pg_am.h"
#include "catalog/pg_opclass.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"

#include "hypothetical_index.h"

/* btree page: header and special space; index tuple: header, line pointer */
#define BT_PAGE_USABLE	((BLCKSZ - 24 - 16) * 0.9)
#define BT_TUPLE_OVERHEAD	(8 + 4)

static int32
key_width(Oid relid, SdpHypoKey *key, Oid typid, int32 typmod)
{
	int32		width = 0;

	if (key->attnum > 0)
		width = get_attavgwidth(relid, key->attnum);
	if (width <= 0)
		width = get_typavgwidth(typid, typmod);
	return MAXALIGN(width);
}

/*
 * Fraction of rel's rows a partial index keeps.  get_relation_info runs
 * before the planner files rel under its relid, where the selectivity
 * functions look for it, so it is filed there for the estimate and taken
 * back at once.
 */
static Selectivity
predicate_selectivity(PlannerInfo *root, RelOptInfo *rel, List *predicate)
{
	RelOptInfo *filed = root->simple_rel_array[rel->relid];
	Selectivity selectivity;

	root->simple_rel_array[rel->relid] = rel;
	PG_TRY();
	{
		selectivity = clauselist_selectivity(root, predicate, rel->relid, JOIN_INNER, NULL);
	}
	PG_FINALLY();
	{
		root->simple_rel_array[rel->relid] = filed;
	}
	PG_END_TRY();
	return selectivity;
}

/*
 * Build the planner's view of a hypothetical btree index on rel (columns
 * and expressions use varno 1 in def).  Returns NULL when a key's type has
 * no default btree operator class.  Palloc'd in the current (planner's)
 * memory context; catalog lookups only, no SPI, no lock.
 */
IndexOptInfo *
sdp_hypo_index_info(PlannerInfo *root, RelOptInfo *rel, Oid relid, Oid fake_oid,
					const SdpHypoIndex *def)
{
	IndexOptInfo *info = makeNode(IndexOptInfo);
	IndexAmRoutine *am = GetIndexAmRoutineByAmId(BTREE_AM_OID, false);
	int			nkeys = def->nkeys;
	int			ncolumns = def->nkeys + def->ninclude;
	double		tuple_size = BT_TUPLE_OVERHEAD;
	double		tuples = rel->tuples;
	double		pages;

	info->indexoid = fake_oid;
	info->reltablespace = InvalidOid;
	info->rel = rel;
	info->ncolumns = ncolumns;
	info->nkeycolumns = nkeys;
	info->indexkeys = palloc0(sizeof(int) * ncolumns);
	info->indexcollations = palloc0(sizeof(Oid) * nkeys);
	info->opfamily = palloc0(sizeof(Oid) * nkeys);
	info->opcintype = palloc0(sizeof(Oid) * nkeys);
	info->sortopfamily = palloc0(sizeof(Oid) * nkeys);
	info->reverse_sort = palloc0(sizeof(bool) * nkeys);
	info->nulls_first = palloc0(sizeof(bool) * nkeys);
	info->canreturn = palloc0(sizeof(bool) * ncolumns);
	info->opclassoptions = palloc0(sizeof(bytea *) * ncolumns);
	info->relam = BTREE_AM_OID;

	for (int i = 0; i < nkeys; i++)
	{
		SdpHypoKey *key = &def->keys[i];
		Oid			typid;
		int32		typmod;
		Oid			collation;
		Oid			opclass;
		Expr	   *tle_expr;

		if (key->attnum > 0)
		{
			get_atttypetypmodcoll(relid, key->attnum, &typid, &typmod, &collation);
			tle_expr = (Expr *) makeVar(rel->relid, key->attnum, typid, typmod,
										collation, 0);
		}
		else
		{
			Node	   *expr = copyObject(key->expr);

			ChangeVarNodes(expr, 1, rel->relid, 0);
			typid = exprType(expr);
			typmod = exprTypmod(expr);
			collation = exprCollation(expr);
			info->indexprs = lappend(info->indexprs, expr);
			tle_expr = (Expr *) expr;
		}
		opclass = GetDefaultOpClass(typid, BTREE_AM_OID);
		if (!OidIsValid(opclass))
			return NULL;
		info->indexkeys[i] = key->attnum;
		info->indexcollations[i] = collation;
		info->opfamily[i] = get_opclass_family(opclass);
		info->opcintype[i] = get_opclass_input_type(opclass);
		info->sortopfamily[i] = info->opfamily[i];
		info->canreturn[i] = true;
		info->indextlist = lappend(info->indextlist,
								   makeTargetEntry(tle_expr, i + 1, NULL, false));
		tuple_size += key_width(relid, key, typid, typmod);
	}
	for (int i = 0; i < def->ninclude; i++)
	{
		SdpHypoKey	column = {def->include[i], NULL};
		Oid			typid;
		int32		typmod;
		Oid			collation;

		get_atttypetypmodcoll(relid, column.attnum, &typid, &typmod, &collation);
		info->indexkeys[nkeys + i] = column.attnum;
		info->canreturn[nkeys + i] = true;
		info->indextlist = lappend(info->indextlist,
								   makeTargetEntry((Expr *) makeVar(rel->relid, column.attnum,
																	typid, typmod, collation, 0),
												   nkeys + i + 1, NULL, false));
		tuple_size += key_width(relid, &column, typid, typmod);
	}
	if (def->predicate != NIL)
	{
		List	   *predicate = copyObject(def->predicate);

		ChangeVarNodes((Node *) predicate, 1, rel->relid, 0);
		info->indpred = predicate;
		tuples *= predicate_selectivity(root, rel, predicate);
	}

	/* size like a freshly built btree: leaf pages, a metapage, inner pages */
	info->tuples = tuples;
	pages = ceil(Max(tuples, 1) * tuple_size / BT_PAGE_USABLE);
	info->tree_height = pages <= 1 ? 0 :
		(int) ceil(log(pages) / log(Max(BT_PAGE_USABLE / tuple_size, 2)));
	info->pages = (BlockNumber) (pages + 1 + pages / Max(BT_PAGE_USABLE / tuple_size, 2));

	info->predOK = false;		/* check_index_predicates() decides */
	info->unique = false;
	info->immediate = true;
	info->hypothetical = true;
	info->amcanorderbyop = am->amcanorderbyop;
	info->amoptionalkey = am->amoptionalkey;
	info->amsearcharray = am->amsearcharray;
	info->amsearchnulls = am->amsearchnulls;
	info->amhasgettuple = am->amgettuple != NULL;
	info->amhasgetbitmap = am->amgetbitmap != NULL;
	info->amcanparallel = am->amcanparallel;
	info->amcanmarkpos = am->ammarkpos != NULL && am->amrestrpos != NULL;
	info->amcostestimate = am->amcostestimate;
	return info;
}

/* Estimated size in bytes of a built index (what the planner is told). */
int64
sdp_hypo_index_bytes(IndexOptInfo *info)
{
	return (int64) info->pages * BLCKSZ;
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

/* Does the plan (its subplans included) scan indexoid?  Plan nodes only, no lock. */
bool
sdp_plan_uses_index(PlannedStmt *stmt, Oid indexoid)
{
	ListCell   *lc;

	if (plan_uses(stmt->planTree, indexoid))
		return true;
	foreach(lc, stmt->subplans)
		if (plan_uses(lfirst(lc), indexoid))
			return true;
	return false;
}
