/*-------------------------------------------------------------------------
 *
 * hypothetical_index.h
 *	  Hypothetical btree indexes for what-if planning.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_HYPOTHETICAL_INDEX_H
#define SDP_HYPOTHETICAL_INDEX_H

#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"

/* one key of a hypothetical index: a column, or an expression (attnum 0) */
typedef struct SdpHypoKey
{
	AttrNumber	attnum;
	Node	   *expr;			/* Vars with varno 1 */
} SdpHypoKey;

/* what a hypothetical index is: keys, INCLUDE columns, predicate */
typedef struct SdpHypoIndex
{
	int			nkeys;
	SdpHypoKey *keys;
	int			ninclude;
	AttrNumber *include;
	List	   *predicate;		/* implicitly ANDed clauses, Vars with varno 1 */
} SdpHypoIndex;

extern IndexOptInfo *sdp_hypo_index_info(PlannerInfo *root, RelOptInfo *rel,
										 Oid relid, Oid fake_oid,
										 const SdpHypoIndex *def);
extern int64 sdp_hypo_index_bytes(IndexOptInfo *info);
extern bool sdp_plan_uses_index(PlannedStmt *stmt, Oid indexoid);

#endif							/* SDP_HYPOTHETICAL_INDEX_H */
