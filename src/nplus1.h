/*-------------------------------------------------------------------------
 *
 * nplus1.h
 *	  N+1 query detection: loops of one to five query shapes repeated inside
 *	  one unit of work (nplus1.c), and the shared table of the patterns they
 *	  form (nplus1_store.c).
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

/* the most positions (statements) one iteration of a loop may hold */
#define SDP_NPLUS1_MAX_PERIOD	5

/* framework tags (SQLCommenter, query log tags) kept of a repeated statement */
#define SDP_NPLUS1_TAGS_LEN		256

typedef enum SdpLoopKind
{
	SDP_LOOP_SELECT = 's',		/* select_loop */
	SDP_LOOP_DML = 'd'			/* row_by_row_dml */
} SdpLoopKind;

/* who wrote the repeated statement */
typedef enum SdpLoopOrigin
{
	SDP_ORIGIN_APPLICATION = 'a',
	SDP_ORIGIN_FOREIGN_KEY = 'f',	/* PostgreSQL's foreign-key checks */
	SDP_ORIGIN_SYSTEM = 's',	/* a system catalogs' SQL function's body */
	SDP_ORIGIN_EXTENSION = 'e'	/* smart_dairy_perf's own code */
} SdpLoopOrigin;

typedef struct SdpPatternKey
{
	Oid			userid;
	Oid			dbid;
	uint64		queryid;		/* the repeated statement */
	uint64		parent_queryid; /* the statement that drives it, or 0 */
	uint64		appid;
	uint64		loop_id;		/* hash of the loop's shapes, in order */
	bool		nested;			/* the loop ran inside a function */
} SdpPatternKey;

/* the shapes that loop together, as the detector saw them */
typedef struct SdpLoopShape
{
	int32		nshapes;		/* distinct shapes in one iteration */
	int32		position;		/* this pattern's shape, 1-based */
	int32		per_iteration;	/* executions of this shape per iteration */
	char		origin;			/* SdpLoopOrigin */
	uint64		queryids[SDP_NPLUS1_MAX_PERIOD];	/* in loop order */
} SdpLoopShape;

typedef struct SdpPatternCounters
{
	int64		occurrences;	/* bursts seen */
	int64		total_repeats;	/* executions inside those bursts */
	int64		max_repeats;
	double		total_exec_ms;	/* time spent in those executions */
	int64		parent_rows;	/* rows the parent returned, summed ... */
	int64		parent_rows_known;	/* ... over this many bursts */
	TimestampTz first_seen;
	TimestampTz last_seen;
} SdpPatternCounters;

typedef struct SdpPattern
{
	SdpPatternKey key;			/* hash key: must be first */
	slock_t		mutex;			/* protects counters */
	SdpPatternCounters counters;
	char		kind;			/* SdpLoopKind */
	SdpLoopShape loop;
	char		tags[SDP_NPLUS1_TAGS_LEN];	/* the statement's comment, or "" */
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
extern bool sdp_nplus1_wants_timing(void);
extern void sdp_nplus1_utility_end(int level);
extern void sdp_nplus1_statement_end(QueryDesc *queryDesc, int level,
									 bool timed, double elapsed_ms);

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

/* which loops are not the application's (nplus1_noise.c), at confirmation */
extern char sdp_nplus1_system_statement(QueryDesc *queryDesc, int level);
extern bool sdp_nplus1_keyset_page(const char *query);

/* between the detector (nplus1.c) and the pattern table (nplus1_store.c) */
extern uint64 sdp_nplus1_generation(void);
/* what a confirmed burst brings to its pattern */
typedef struct SdpBurst
{
	char		kind;			/* SdpLoopKind */
	const SdpLoopShape *loop;
	int64		repeats;
	double		exec_ms;
	int64		parent_rows;	/* -1: unknown */
	const char *tags;			/* NUL-terminated, may be "" */
	const char *query;
	int			query_len;
	const char *parent;			/* NULL: unknown */
	int			parent_len;
} SdpBurst;

extern SdpPattern *sdp_nplus1_confirm(const SdpPatternKey *key,
									  const SdpBurst *burst, bool *is_new);
extern void sdp_nplus1_add_repeat(SdpPattern *pattern, uint64 generation,
								  int64 count, int64 repeats_now, double exec_ms);

#endif							/* SDP_NPLUS1_H */
