/*-------------------------------------------------------------------------
 *
 * profiler_store.h
 *	  The shared-memory table of per-query statistics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PROFILER_STORE_H
#define SDP_PROFILER_STORE_H

#include "executor/instrument.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "histogram.h"

/*
 * Identity of one row of sdp.query_stats.  Hashed as raw bytes, so every
 * key is built by sdp_store_make_key(), which zeroes the padding.
 */
typedef struct SdpEntryKey
{
	Oid			userid;
	Oid			dbid;
	uint64		queryid;		/* PostgreSQL's own query id */
	uint64		appid;			/* hash of application_name */
	bool		toplevel;		/* run by the client, not inside a function */
} SdpEntryKey;

typedef struct SdpCounters
{
	int64		calls;
	int64		rows;
	double		total_time;		/* milliseconds */
	double		min_time;
	double		max_time;
	double		mean_time;
	double		sum_var_time;	/* Welford's running sum of squared deviations */
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int64		shared_blks_dirtied;
	int64		shared_blks_written;
	int64		local_blks_hit;
	int64		local_blks_read;
	int64		local_blks_dirtied;
	int64		local_blks_written;
	int64		temp_blks_read;
	int64		temp_blks_written;
	double		blk_read_time;	/* milliseconds, with track_io_timing */
	double		blk_write_time;
	int64		wal_records;
	int64		wal_fpi;
	uint64		wal_bytes;
	TimestampTz first_seen;
	TimestampTz last_seen;
	SdpHistogram histogram;
} SdpCounters;

/* the longest search_path an entry records; a longer one is not recorded */
#define SDP_MAX_SEARCH_PATH		256

/*
 * One shape.  Everything but the counters and usage is set when the entry
 * is created and never changes while it exists: readers holding the lock
 * in any mode may copy it without the spinlock.
 */
typedef struct SdpEntry
{
	SdpEntryKey key;			/* hash key: must be first */
	slock_t		mutex;			/* protects counters and usage */
	double		usage;			/* decayed call count, for eviction */
	SdpCounters counters;
	char		appname[NAMEDATALEN];
	/* resolution context, as the shape's first execution saw it */
	int			search_path_len;	/* -1: too long to record */
	char		search_path[SDP_MAX_SEARCH_PATH];
	int			encoding;		/* of the query text and the sample */
	int			sample_len;		/* 0: no sample (switched off) */
	int			query_len;
	/* normalized text, then the sample: max_query_text + 1 bytes each */
	char		query[FLEXIBLE_ARRAY_MEMBER];
} SdpEntry;

/* the sample: the first execution's own text, constants included */
#define SDP_ENTRY_SAMPLE(entry)	((entry)->query + sdp_max_query_text + 1)

/* what a new entry records besides its key (sdp_store_create()) */
typedef struct SdpNewEntry
{
	const char *query;			/* normalized text */
	int			query_len;
	const char *sample;			/* NULL: none */
	int			sample_len;
	const char *search_path;	/* the search_path setting in effect */
	int			encoding;
} SdpNewEntry;

typedef struct SdpStoreShared
{
	LWLock	   *lock;			/* protects the hash table's membership */
	/* bumped (under lock, exclusively) whenever entries are removed */
	pg_atomic_uint64 generation;
	pg_atomic_uint64 evictions;
	slock_t		mutex;			/* protects the fields below */
	TimestampTz stats_reset;
	double		median_usage;	/* usage given to new entries */
} SdpStoreShared;

extern SdpStoreShared *sdp_store;
extern HTAB *sdp_store_hash;

/* setup, from the shmem hooks */
extern Size sdp_store_shmem_size(void);
extern void sdp_store_shmem_startup(void);
extern Size sdp_store_entry_size(void);

/* hot path */
extern uint32 sdp_store_make_key(SdpEntryKey *key, Oid userid, Oid dbid,
								 uint64 queryid, bool toplevel);
extern bool sdp_store_is_cached(const SdpEntryKey *key, uint32 hash);
extern SdpEntry *sdp_store_lookup(const SdpEntryKey *key, uint32 hash);
extern void sdp_store_record(SdpEntry *entry, double elapsed_ms, uint64 rows,
							 const BufferUsage *bufusage,
							 const WalUsage *walusage);

/* new shapes; lock held shared on entry to lookup, exclusively by create */
extern SdpEntry *sdp_store_create(const SdpEntryKey *key, uint32 hash,
								  const SdpNewEntry *what);
extern const char *sdp_store_current_appname(void);

/* maintenance */
extern int64 sdp_store_reset(Oid userid, Oid dbid, uint64 queryid);
extern void sdp_store_check_loaded(void);

/* the entries' part of the statistics file (stats_file.h), postmaster only */
struct SdpStatsHeader;
struct SdpStatsWriter;
struct SdpStatsReader;
extern void sdp_store_describe(struct SdpStatsHeader *header);
extern bool sdp_store_save(struct SdpStatsWriter *w);
extern const char *sdp_store_load(struct SdpStatsReader *r,
								  const struct SdpStatsHeader *header,
								  bool apply, int64 *nloaded);

#endif							/* SDP_PROFILER_STORE_H */
