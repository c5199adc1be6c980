/*-------------------------------------------------------------------------
 *
 * advisor_whatif.c
 *	  The index advisor's second phase, what-if costing: a workload
 *	  statement is planned again with candidates injected as hypothetical
 *	  btree indexes (hypothetical_index.c) through a get_relation_info hook,
 *	  and its plan is searched for the candidate (sdp_plan_uses_index()).  A candidate
 *	  on a partitioned table is injected into its partitions, on the same
 *	  columns by name.
 *
 *	  Which candidates are injected is sdp_advisor_injected, set by the
 *	  choice (advisor_choice.c).  Planning runs as the statement's role in a
 *	  security-restricted operation (run_as_owner.c), in a scratch memory
 *	  context reset after every plan.  The hook is installed only during
 *	  sdp._index_advice().  No SPI, no locks of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "nodes/plannodes.h"
#include "optimizer/plancat.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "advisor.h"
#include "hypothetical_index.h"
#include "run_as_owner.h"

List	   *sdp_advisor_injected = NIL;

static get_relation_info_hook_type prev_get_relation_info = NULL;

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
	foreach(lc, sdp_advisor_injected)
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

/*
 * Plan a workload statement with the injected hypothetical indexes
 * (sdp_advisor_injected), as its role; returns its estimated total cost and
 * whether the plan uses index c (if given).  Plans in scratch, which is
 * reset before returning.  No SPI.
 */
double
sdp_advisor_what_if(WorkItem *w, Candidate *c, bool *used, MemoryContext scratch)
{
	MemoryContext old = MemoryContextSwitchTo(scratch);
	PlannedStmt *stmt;
	double		cost;
	ListCell   *lc;
	SdpSavedUser saved;

	foreach(lc, sdp_advisor_injected)
		((Candidate *) lfirst(lc))->est_pages = 0;
	/* planning folds constant calls: they run with the statement's user's rights */
	sdp_become_role(w->userid, w->search_path, &saved);
	stmt = pg_plan_query(copyObject(w->query), w->text, CURSOR_OPT_PARALLEL_OK, NULL);
	sdp_restore_user(&saved);
	cost = stmt->planTree->total_cost;
	if (used)
		*used = c != NULL && sdp_plan_uses_index(stmt, c->fake_oid);
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch);
	return cost;
}

/* Does the statement read relid, or a partition of it?  Catalog caches only. */
bool
sdp_advisor_item_reads(WorkItem *w, Oid relid)
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
 * The statement's cost with the injected indexes when its plan uses c; -1
 * when it does not read c's table or its plan does not use c.  Plans in
 * scratch (reset).
 */
double
sdp_advisor_cost_using(WorkItem *w, Candidate *c, MemoryContext scratch)
{
	bool		used;
	double		cost;

	if (w->query == NULL || !sdp_advisor_item_reads(w, c->relid))
		return -1;
	cost = sdp_advisor_what_if(w, c, &used, scratch);
	return used ? cost : -1;
}


/*
 * Install the get_relation_info hook for the advisor's run;
 * sdp_advisor_whatif_uninstall() puts the previous one back, in the same
 * PG_FINALLY.
 */
void
sdp_advisor_whatif_install(void)
{
	prev_get_relation_info = get_relation_info_hook;
	get_relation_info_hook = advisor_get_relation_info;
}

/* Put back the previous get_relation_info hook; inject nothing more. */
void
sdp_advisor_whatif_uninstall(void)
{
	get_relation_info_hook = prev_get_relation_info;
	sdp_advisor_injected = NIL;
}
