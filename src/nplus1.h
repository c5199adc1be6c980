/*-------------------------------------------------------------------------
 *
 * nplus1.h
 *	  N+1 query detection: bursts of one query shape inside one unit of work.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_NPLUS1_H
#define SDP_NPLUS1_H

#include "executor/execdesc.h"
#include "funcapi.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/* statements nested deeper than this are not watched for loops */
#define SDP_NPLUS1_MAX_LEVELS	8

typedef enum SdpLoopKind
{
	SDP_LOOP_SELECT = 's',		/* select_loop */
	SDP_LOOP_DML = 'd'			/* row_by_row_dml */
} SdpLoopKind;

typedef struct SdpPatternKey
{
	Oid			userid;
	Oid			dbid;
	uint64		queryid;		/* the repeated statement */
	uint64		parent_queryid; /* the statement before the burst, or 0 */
	uint64		appid;
	bool		nested;			/* the loop ran inside a function */
} SdpPatternKey;

typedef struct SdpPatternCounters
{
	int64		occurrences;	/* bursts seen */
	int64		total_repeats;	/* executions inside those bursts */
	int64		max_repeats;
	double		total_exec_ms;	/* time spent in those executions */
	TimestampTz first_seen;
	TimestampTz last_seen;
} SdpPatternCounters;

typedef struct SdpPattern
{
	SdpPatternKey key;			/* hash key: must be first */
	slock_t		mutex;			/* protects counters */
	SdpPatternCounters counters;
	char		kind;			/* SdpLoopKind */
	char		appname[NAMEDATALEN];
	int			encoding;		/* of both texts: the database's */
	int			query_len;
	int			parent_len;		/* -1: parent text unknown */
	char		text[FLEXIBLE_ARRAY_MEMBER];	/* query NUL parent NUL */
} SdpPattern;

/* shared memory, from smart_dairy_perf.c */
extern Size sdp_nplus1_shmem_size(void);
extern void sdp_nplus1_shmem_startup(void);

/* hot path, from profiler_hooks.c */
extern bool sdp_nplus1_watching(int level);
extern void sdp_nplus1_statement_start(int level, uint64 queryid);
extern void sdp_nplus1_statement_end(QueryDesc *queryDesc, int level,
									 double elapsed_ms);

/* maintenance */
extern void sdp_nplus1_reset(uint64 queryid);
extern int	sdp_nplus1_text_room(void);

/* the patterns' part of the statistics file (stats_file.h), postmaster only */
struct SdpStatsWriter;
struct SdpStatsReader;
extern int64 sdp_nplus1_count(void);
extern bool sdp_nplus1_save(struct SdpStatsWriter *w);
extern const char *sdp_nplus1_load(struct SdpStatsReader *r, int64 npatterns,
								   bool apply, int64 *nloaded);

/* between the detector (nplus1.c) and the pattern table (nplus1_store.c) */
extern uint64 sdp_nplus1_generation(void);
extern SdpPattern *sdp_nplus1_confirm(const SdpPatternKey *key, char kind,
									  int64 repeats, double exec_ms,
									  const char *query, int query_len,
									  const char *parent, int parent_len,
									  bool *is_new);
extern void sdp_nplus1_add_repeat(SdpPattern *pattern, uint64 generation,
								  int64 repeats_now, double exec_ms);

#endif							/* SDP_NPLUS1_H */
