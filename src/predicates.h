/*-------------------------------------------------------------------------
 *
 * predicates.h
 *	  Predicates observed in executed plans: the column tests of scan
 *	  filters that removed rows, the columns of join clauses over full
 *	  scans, and the ORDER BY columns of LIMIT queries sorted after a scan.
 *	  Sampled by predicate_sampler.c, kept by predicate_store.c, read by
 *	  the index advisor and sdp.observed_predicates.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PREDICATES_H
#define SDP_PREDICATES_H

#include "executor/execdesc.h"
#include "nodes/pg_list.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#define SDP_PRED_MAX_COLS	4

typedef enum SdpPredicateKind
{
	SDP_PRED_FILTER = 'f',		/* a scan filter removed rows */
	SDP_PRED_JOIN = 'j',		/* join key of a full scan */
	SDP_PRED_ORDER = 'o'		/* ORDER BY ... LIMIT sorted after a scan */
} SdpPredicateKind;

/* how a column is tested */
#define SDP_COL_CONST_LEFT	0x01	/* constant op column */
#define SDP_COL_ANY			0x02	/* column op ANY (array) */
#define SDP_COL_IS_NULL		0x04	/* column IS NULL (opno 0) */
#define SDP_COL_SORT		0x08	/* ORDER BY column (opno: its sort operator) */

typedef struct SdpPredicateColumn
{
	int16		attnum;
	uint8		flags;
	Oid			opno;
} SdpPredicateColumn;

/* hash key: zeroed before it is filled, compared as bytes */
typedef struct SdpPredicateKey
{
	Oid			dbid;
	Oid			relid;			/* the scanned table or partition */
	char		kind;			/* SdpPredicateKind */
	uint8		ncols;
	SdpPredicateColumn cols[SDP_PRED_MAX_COLS];	/* tests, then sort columns */
} SdpPredicateKey;

typedef struct SdpPredicateCounters
{
	int64		samples;		/* sampled plan nodes with these tests */
	double		est_executions; /* samples scaled by the sample rate */
	double		rows_kept;		/* rows the nodes returned */
	double		rows_removed;	/* rows their filters removed */
	double		est_total_ms;	/* their share of statement time, scaled */
	int64		limit;			/* ORDER BY ... LIMIT: largest LIMIT seen */
	uint64		queryid;		/* the last statement seen with them */
	TimestampTz last_seen;
} SdpPredicateCounters;

typedef struct SdpPredicate
{
	SdpPredicateKey key;		/* hash key: must be first */
	slock_t		mutex;			/* protects counters */
	SdpPredicateCounters counters;
} SdpPredicate;

/* one row of sdp.observed_predicates, on the partitioned root's columns */
typedef struct SdpObservedPredicate
{
	Oid			relid;
	char		kind;
	char	   *predicate;		/* "farm_id = ?, read_at IS NULL" */
	char	   *what_if_query;	/* a statement with these tests, $n params */
	SdpPredicateCounters counters;
} SdpObservedPredicate;

/* shared memory, from smart_dairy_perf.c */
extern Size sdp_predicates_shmem_size(void);
extern void sdp_predicates_shmem_startup(void);

/* hot path, from profiler_hooks.c */
extern bool sdp_predicates_start(QueryDesc *queryDesc, bool top_level);
extern void sdp_predicates_watch(QueryDesc *queryDesc);
extern bool sdp_predicates_watched(QueryDesc *queryDesc);
extern void sdp_predicates_harvest(QueryDesc *queryDesc, double elapsed_ms);

/* the table (predicate_store.c) */
extern void sdp_predicate_record(const SdpPredicateKey *key, double rows_kept,
								 double rows_removed, double ms, int64 limit,
								 uint64 queryid, double sample_rate);
extern void sdp_predicates_reset(void);
extern List *sdp_observed_predicates(void);

/* the table's part of the statistics file (stats_file.h), postmaster only */
struct SdpStatsWriter;
struct SdpStatsReader;
extern bool sdp_predicates_save(struct SdpStatsWriter *w);
extern const char *sdp_predicates_load(struct SdpStatsReader *r, bool apply,
									   int64 *nloaded);

#endif							/* SDP_PREDICATES_H */
