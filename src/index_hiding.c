/*-------------------------------------------------------------------------
 *
 * index_hiding.c
 *	  Indexes hidden from the planner in this session: sdp.hide_index(),
 *	  sdp.unhide_index(), sdp.hidden_indexes(), so a DBA sees what dropping
 *	  an index would cost before dropping it; and the same for one
 *	  measurement at a time (index_validation.c), which also shows an index
 *	  the session hid for as long as it measures it.
 *
 *	  How: a get_relation_info hook takes the hidden indexes out of the
 *	  relation's index list, as HypoPG's hypopg_hide_index does (hiding a
 *	  partitioned index hides its partitions' indexes, which are what the
 *	  planner scans); a hidden
 *	  index stays in the catalogs, is still maintained by writes and still
 *	  enforces its constraint, it is only never chosen for a scan.  The
 *	  hook is installed the first time this backend hides an index and
 *	  stays (it chains to the hook installed before it); with nothing
 *	  hidden it costs a pointer test per relation planned.
 *
 *	  State: a list of index OIDs in TopMemoryContext, private to the
 *	  backend: no other session ever sees it, it survives transactions
 *	  until unhidden or the session ends.  It is not transactional, so it
 *	  cannot be changed within a security-restricted operation (another
 *	  role's code run on the session's behalf).  A plan cached before an index
 *	  was hidden could still use it: hiding and unhiding mark this
 *	  backend's cached plans invalid (ResetPlanCache(), backend-local; a
 *	  relcache invalidation would be sent to every backend and, at commit,
 *	  need WAL, which a standby cannot write), so they are planned again.
 *
 *	  No shared memory, no lock of its own (the index is opened with
 *	  AccessShareLock to check what it is).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "utils/builtins.h"
#include "utils/plancache.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "index_hiding.h"

PG_FUNCTION_INFO_V1(sdp_hide_index);
PG_FUNCTION_INFO_V1(sdp_unhide_index);
PG_FUNCTION_INFO_V1(sdp_hidden_indexes);

static List *hidden_indexes = NIL;	/* OIDs, in TopMemoryContext */
static bool hook_installed = false;
static get_relation_info_hook_type prev_get_relation_info = NULL;

static void
hiding_get_relation_info(PlannerInfo *root, Oid relid, bool inhparent,
						 RelOptInfo *rel)
{
	if (prev_get_relation_info)
		prev_get_relation_info(root, relid, inhparent, rel);
	if (hidden_indexes != NIL)
	{
		ListCell   *lc;

		foreach(lc, rel->indexlist)
		{
			IndexOptInfo *info = lfirst(lc);

			if (list_member_oid(hidden_indexes, info->indexoid))
				rel->indexlist = foreach_delete_current(rel->indexlist, lc);
		}
	}
}

/*
 * The index and, for a partitioned index, the indexes of its partitions
 * (what plans scan).  Reads pg_inherits without locking the partitions.
 */
List *
sdp_index_and_partitions(Oid indexoid)
{
	if (get_rel_relkind(indexoid) == RELKIND_PARTITIONED_INDEX)
		return find_all_inheritors(indexoid, NoLock, NULL);
	return list_make1_oid(indexoid);
}

/*
 * Hide indexoid (and its partitions' indexes) from this session's
 * planning, no check of what it is; returns false when it was hidden
 * already.  The list lives in TopMemoryContext.
 */
bool
sdp_index_hide(Oid indexoid)
{
	MemoryContext old;
	List	   *members;
	ListCell   *lc;

	if (!hook_installed)
	{
		prev_get_relation_info = get_relation_info_hook;
		get_relation_info_hook = hiding_get_relation_info;
		hook_installed = true;
	}
	if (list_member_oid(hidden_indexes, indexoid))
		return false;
	members = sdp_index_and_partitions(indexoid);
	old = MemoryContextSwitchTo(TopMemoryContext);
	foreach(lc, members)
		hidden_indexes = list_append_unique_oid(hidden_indexes, lfirst_oid(lc));
	MemoryContextSwitchTo(old);
	/* this backend's cached plans are planned again */
	ResetPlanCache();
	return true;
}

/* Show indexoid (and its partitions' indexes) again; false when it was not hidden. */
bool
sdp_index_unhide(Oid indexoid)
{
	ListCell   *lc;
	List	   *members;

	if (!list_member_oid(hidden_indexes, indexoid))
		return false;
	members = get_rel_relkind(indexoid) == '\0' ? list_make1_oid(indexoid) :
		sdp_index_and_partitions(indexoid);
	foreach(lc, members)
		hidden_indexes = list_delete_oid(hidden_indexes, lfirst_oid(lc));
	ResetPlanCache();
	return true;
}

/*
 * Show the indexes in members to this session's planning for a while:
 * takes them off the hidden list and returns those that were on it (in
 * the current memory context), for sdp_index_rehide().
 */
List *
sdp_index_reveal(List *members)
{
	List	   *revealed = NIL;
	ListCell   *lc;

	foreach(lc, members)
	{
		Oid			indexoid = lfirst_oid(lc);

		if (list_member_oid(hidden_indexes, indexoid))
		{
			hidden_indexes = list_delete_oid(hidden_indexes, indexoid);
			revealed = lappend_oid(revealed, indexoid);
		}
	}
	if (revealed != NIL)
		ResetPlanCache();
	return revealed;
}

/* Hide again what sdp_index_reveal() showed.  The list lives in TopMemoryContext. */
void
sdp_index_rehide(List *revealed)
{
	MemoryContext old;
	ListCell   *lc;

	if (revealed == NIL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	foreach(lc, revealed)
		hidden_indexes = list_append_unique_oid(hidden_indexes, lfirst_oid(lc));
	MemoryContextSwitchTo(old);
	ResetPlanCache();
}

/* The index behind a regclass argument, or an error saying what it is instead. */
static Oid
index_argument(Oid relid)
{
	char		relkind = get_rel_relkind(relid);

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation with OID %u does not exist", relid)));
	if (relkind != RELKIND_INDEX && relkind != RELKIND_PARTITIONED_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", get_rel_name(relid)),
				 errhint("Pass the name of an index, for instance one listed by \\di.")));
	return relid;
}

/*
 * The list is session state that outlives the (sub)transaction: code run
 * on the session's behalf as another role (a sample run by
 * sdp.validate_index(), a constant folded by the advisor) must not change
 * it.
 */
static void
refuse_if_restricted(const char *function)
{
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot call %s within a security-restricted operation", function)));
}

/* sdp.hide_index(index regclass): true when newly hidden */
Datum
sdp_hide_index(PG_FUNCTION_ARGS)
{
	refuse_if_restricted("sdp.hide_index()");
	PG_RETURN_BOOL(sdp_index_hide(index_argument(PG_GETARG_OID(0))));
}

/* sdp.unhide_index(index regclass): true when it was hidden */
Datum
sdp_unhide_index(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	refuse_if_restricted("sdp.unhide_index()");
	/* a hidden index dropped since can still be taken off the list */
	if (get_rel_relkind(relid) != '\0')
		(void) index_argument(relid);
	PG_RETURN_BOOL(sdp_index_unhide(relid));
}

/* sdp.hidden_indexes(): the indexes hidden in this session, with their tables */
Datum
sdp_hidden_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	foreach(lc, hidden_indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		Datum		values[2];
		bool		nulls[2] = {false, false};

		/* dropped since it was hidden: nothing to show */
		if (get_rel_relkind(indexoid) == '\0')
			continue;
		values[0] = ObjectIdGetDatum(indexoid);
		values[1] = ObjectIdGetDatum(IndexGetRelation(indexoid, false));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
