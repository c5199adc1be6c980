/*-------------------------------------------------------------------------
 *
 * index_hiding.h
 *	  Indexes hidden from this session's planning (index_hiding.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_INDEX_HIDING_H
#define SDP_INDEX_HIDING_H

#include "postgres.h"

#include "nodes/pg_list.h"

extern bool sdp_index_hide(Oid indexoid);
extern bool sdp_index_unhide(Oid indexoid);
extern List *sdp_index_and_partitions(Oid indexoid);
extern List *sdp_index_reveal(List *members);
extern void sdp_index_rehide(List *revealed);

#endif							/* SDP_INDEX_HIDING_H */
