/*-------------------------------------------------------------------------
 *
 * profiler_persist.h
 *	  Saving the profiler's statistics at shutdown and loading them at start.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PROFILER_PERSIST_H
#define SDP_PROFILER_PERSIST_H

#define SDP_STATS_FILE		"pg_stat/smart_dairy_perf.stat"

extern void sdp_persist_load(void);
extern void sdp_persist_save(int code, Datum arg);

#endif							/* SDP_PROFILER_PERSIST_H */
