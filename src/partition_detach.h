/*-------------------------------------------------------------------------
 *
 * partition_detach.h
 *	  How retention takes a partition out of its table: DETACH ...
 *	  CONCURRENTLY from the background worker, FINALIZE of a detach
 *	  interrupted earlier, and the refusal of partitions that a foreign key
 *	  or a view depends on (partition_detach.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PARTITION_DETACH_H
#define SDP_PARTITION_DETACH_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/timestamp.h"

/* An expired partition the worker detaches concurrently, outside the parent's transaction. */
typedef struct SdpDeferredDetach
{
	Oid			parent;
	Oid			partition;
	Oid			owner;			/* the parent's: the statements run as it */
	char	   *qparent;		/* schema-qualified, quoted */
	char	   *qpartition;
	char	   *range;			/* "[from, to)" for log rows */
	bool		drop;			/* retention_mode = 'drop': drop it after */
} SdpDeferredDetach;

extern char *sdp_retention_blocker(Oid partition, bool drop);
extern bool sdp_partition_finalize_pending(Oid parent, Oid owner,
										   const char *qparent,
										   const char *timezone,
										   const Interval *retention,
										   bool drop, TimestampTz started);
extern bool sdp_partition_detach_deferred(SdpDeferredDetach *d,
										  TimestampTz started);

#endif							/* SDP_PARTITION_DETACH_H */
