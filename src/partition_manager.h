/*-------------------------------------------------------------------------
 *
 * partition_manager.h
 *	  Partition creation and retention, shared with the table conversion
 *	  (partition_convert.c) and the maintenance worker, which maintains
 *	  each parent in a transaction of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PARTITION_MANAGER_H
#define SDP_PARTITION_MANAGER_H

#include "funcapi.h"
#include "nodes/pg_list.h"

#include "partition_bounds.h"

/* where created partitions are reported; rsinfo may be NULL */
typedef struct SdpPartitionReport
{
	ReturnSetInfo *rsinfo;
	bool		log;			/* also write sdp.maintenance_log */
	TimestampTz started;
} SdpPartitionReport;

extern void sdp_partition_save_config(Oid parent, Interval *interval,
									  int premake, Interval *retention,
									  const char *mode, bool default_partition,
									  const char *timezone,
									  const char *if_referenced);
extern List *sdp_column_settings(Oid source, const char *qtarget);
extern void sdp_partition_inherit_properties(Oid parent, Oid partition);
extern char *sdp_partition_copyable_columns(Oid relid);
extern void sdp_partition_ensure_default(const SdpPartitionKey *key,
										 SdpPartitionReport *report);
extern int	sdp_partition_create_missing(const SdpPartitionKey *key,
										 Interval *interval, int premake,
										 const Interval *retention,
										 const char *data_source, Datum start_at,
										 bool has_start, Datum up_to,
										 bool has_up_to,
										 SdpPartitionReport *report);
extern bool sdp_partition_maintain_one(Oid parent, const char *name,
									   ReturnSetInfo *rsinfo, List **deferred,
									   MemoryContext deferred_cxt);
extern int	sdp_partition_configured_parents(Oid **parents, char ***names);

#endif							/* SDP_PARTITION_MANAGER_H */
