/*-------------------------------------------------------------------------
 *
 * partition_bounds.h
 *	  What the partition manager accepts: partitioned tables, keys,
 *	  intervals, retention modes; and how partitions are named.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PARTITION_BOUNDS_H
#define SDP_PARTITION_BOUNDS_H

#include "utils/timestamp.h"

typedef struct SdpPartitionStep
{
	const char *label;			/* "1 month" */
	const char *trunc_unit;		/* date_trunc() unit that aligns it */
	const char *name_format;	/* to_char() format of the name suffix */
} SdpPartitionStep;

typedef struct SdpPartitionKey
{
	Oid			relid;
	char	   *schema;			/* of the parent */
	char	   *relname;
	char	   *column;
	Oid			typid;			/* DATEOID, TIMESTAMPOID or TIMESTAMPTZOID */
	Oid			owner;			/* the parent's owner: maintenance acts as it */
	const char *timezone;		/* of the period boundaries (timestamptz keys) */
} SdpPartitionKey;

extern const SdpPartitionStep *sdp_partition_step(Interval *interval);
extern void sdp_partition_key(Oid relid, SdpPartitionKey *key);
extern void sdp_partition_check_owner(Oid relid);
extern void sdp_partition_check_key_type(Oid typid, const char *column);
extern void sdp_partition_check_premake(int premake);
extern void sdp_partition_check_retention(Interval *retention, const char *mode);
extern char *sdp_partition_name(const char *relname, const char *suffix);
extern const char *sdp_partition_bound_cast(Oid typid);

#endif							/* SDP_PARTITION_BOUNDS_H */
