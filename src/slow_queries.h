/*-------------------------------------------------------------------------
 *
 * slow_queries.h
 *	  Bounded ring of slow executions with their plans.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_SLOW_QUERIES_H
#define SDP_SLOW_QUERIES_H

#include "executor/execdesc.h"
#include "funcapi.h"

#include "profiler_store.h"

extern Size sdp_slow_shmem_size(void);
extern void sdp_slow_shmem_startup(void);

extern void sdp_slow_capture(QueryDesc *queryDesc, const SdpEntryKey *key,
							 double elapsed_ms, const char *query,
							 int query_len);
extern void sdp_slow_reset(uint64 queryid);
extern uint64 sdp_slow_captured_total(void);
extern void sdp_slow_fill_tuplestore(ReturnSetInfo *rsinfo, bool showtext);
extern void sdp_slow_fill_plans(ReturnSetInfo *rsinfo);

/* the ring's part of the statistics file (stats_file.h), postmaster only */
struct SdpStatsWriter;
struct SdpStatsReader;
extern bool sdp_slow_save(struct SdpStatsWriter *w);
extern const char *sdp_slow_load(struct SdpStatsReader *r, bool apply,
								 int64 *nloaded);

#endif							/* SDP_SLOW_QUERIES_H */
