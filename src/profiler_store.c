/*-------------------------------------------------------------------------
 *
 * profiler_store.c
 *	  The shared-memory table of per-query statistics behind sdp.query_stats:
 *	  one entry per (user, database, query id, application, top-level flag),
 *	  with its counters, latency histogram and normalized text; and, behind
 *	  sdp.query_samples (query_samples.c), what is needed to plan the shape
 *	  again as the application saw it: the search_path in effect and one
 *	  sample of the text with its real constants.
 *
 *	  Memory: a fixed-size dynahash in the main shared memory segment, sized
 *	  from smart_dairy_perf.max_queries and .max_query_text at server start.
 *	  The normalized text and the sample are stored inside the entry (at
 *	  most max_query_text bytes each), so there is no external text file to
 *	  grow or garbage-collect, and the memory used never changes after start.
 *
 *	  Resolution context: the search_path setting (its text; "$user" is the
 *	  entry's user) and the sample are recorded once, when the entry is
 *	  created, from what the creating execution already has in hand (the
 *	  setting's string, the statement's source text): no catalog access,
 *	  and an execution of a known shape pays nothing for them.  The sample
 *	  is the first execution's text rather than the slowest's for that
 *	  reason: keeping the slowest would copy a text under the entry's lock
 *	  on the hot path whenever a new maximum is reached.
 *	  smart_dairy_perf.query_samples = off keeps no sample for new entries,
 *	  and hides and does not save the ones kept before.
 *
 *	  Locking rules:
 *	  - sdp_store->lock (LWLock) protects membership of the hash table.
 *	    Hold it shared to find an entry and update its counters; hold it
 *	    exclusively to add, evict or remove entries.  Executions of known
 *	    shapes therefore never take it exclusively.
 *	  - entry->mutex (spinlock) protects the entry's counters and usage; it is
 *	    held for a few dozen instructions while the counters are bumped.
 *	  - sdp_store->generation is bumped, under the exclusive lock, every time
 *	    entries are removed.  Each backend keeps a small direct-mapped cache of
 *	    (key -> entry pointer) stamped with the generation it was filled at;
 *	    a stamp equal to the current generation, read while holding the lock
 *	    in any mode, proves the entry still exists.  That spares the hash
 *	    probe on most executions and the whole lookup in post_parse_analyze.
 *	  - sdp_store->mutex protects stats_reset and median_usage.
 *
 *	  Eviction: when the table is full, the least-used 5 % of entries (by a
 *	  call count that decays by 10 % at every eviction round) are removed and
 *	  counted in sdp_store->evictions.  New entries start at the median usage
 *	  so that a shape seen for the first time is not the next one evicted.
 *
 *	  Persistence: sdp_store_describe(), sdp_store_save() and
 *	  sdp_store_load() write and read the entries' part of the statistics
 *	  file, in the postmaster only (no lock); smart_dairy_perf.c calls them.
 *
 *	  Does not own: hooks (profiler_hooks.c), text normalization
 *	  (normalize.c), the file's framing, header and CRC (stats_file.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "profiler_store.h"
#include "sdp_config.h"
#include "stats_file.h"

#define EVICT_FRACTION		0.05
#define EVICT_MIN			10
#define USAGE_DECAY			0.90
#define USAGE_INITIAL		1.0

#define LOCAL_CACHE_SIZE	256 /* power of two */

typedef struct LocalCacheSlot
{
	uint64		generation;		/* 0: empty (generations start at 1) */
	uint32		hash;
	SdpEntryKey key;
	SdpEntry   *entry;
} LocalCacheSlot;

SdpStoreShared *sdp_store = NULL;
HTAB	   *sdp_store_hash = NULL;

static LocalCacheSlot local_cache[LOCAL_CACHE_SIZE];

/* application_name as last seen by this backend, and its hash */
static char cached_appname[NAMEDATALEN];
static uint64 cached_appid = 0;
static bool cached_app_valid = false;

/*
 * Hash of a key.  The query id and the application id are already 64-bit
 * hashes, so mixing them with the small fields and one murmur finalizer is
 * enough; the generic hash_bytes() over the whole key cost four times more
 * on every execution.
 */
static uint32
key_hash(const void *key, Size keysize)
{
	const SdpEntryKey *k = (const SdpEntryKey *) key;
	uint64		h;

	h = k->queryid ^ (k->appid * UINT64CONST(0x9E3779B97F4A7C15)) ^
		((((uint64) k->userid << 32) | k->dbid) * UINT64CONST(0xC2B2AE3D27D4EB4F)) ^
		(uint64) k->toplevel;
	return murmurhash32((uint32) (h ^ (h >> 32)));
}

/* Size of one hash entry, its text included.  No lock. */
Size
sdp_store_entry_size(void)
{
	return MAXALIGN(offsetof(SdpEntry, query) + 2 * (sdp_max_query_text + 1));
}

/* Shared memory the store needs (smart_dairy_perf.max_queries, max_query_text). */
Size
sdp_store_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(SdpStoreShared)),
					hash_estimate_size(sdp_max_queries, sdp_store_entry_size()));
}

/* Called from shmem_startup_hook in every process that attaches. */
void
sdp_store_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	sdp_store = ShmemInitStruct("smart_dairy_perf store",
								sizeof(SdpStoreShared), &found);
	if (!found)
	{
		sdp_store->lock = &(GetNamedLWLockTranche("smart_dairy_perf"))[0].lock;
		pg_atomic_init_u64(&sdp_store->generation, 1);
		pg_atomic_init_u64(&sdp_store->evictions, 0);
		SpinLockInit(&sdp_store->mutex);
		sdp_store->stats_reset = GetCurrentTimestamp();
		sdp_store->median_usage = USAGE_INITIAL;
	}

	info.keysize = sizeof(SdpEntryKey);
	info.entrysize = sdp_store_entry_size();
	info.hash = key_hash;
	/* no HASH_COMPARE: keys are compared with memcmp (padding is zeroed) */
	sdp_store_hash = ShmemInitHash("smart_dairy_perf queries",
								   sdp_max_queries, sdp_max_queries,
								   &info, HASH_ELEM | HASH_FUNCTION);
}

/* Error for SQL functions called when the library was not preloaded. */
void
sdp_store_check_loaded(void)
{
	if (sdp_store == NULL || sdp_store_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("smart_dairy_perf must be loaded via \"shared_preload_libraries\""),
				 errhint("Add smart_dairy_perf to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * The application_name this backend runs under, and its 64-bit hash.  The
 * hash is recomputed only when the name changes.
 */
static uint64
current_appid(void)
{
	const char *app = application_name ? application_name : "";

	if (!cached_app_valid || strncmp(app, cached_appname, NAMEDATALEN - 1) != 0)
	{
		strlcpy(cached_appname, app, NAMEDATALEN);
		cached_appid = hash_bytes_extended((const unsigned char *) cached_appname,
										   strlen(cached_appname), 0);
		cached_app_valid = true;
	}
	return cached_appid;
}

/* This backend's application_name as entries record it; backend-local, no lock. */
const char *
sdp_store_current_appname(void)
{
	(void) current_appid();
	return cached_appname;
}

/* Build a key (padding zeroed) and return its hash in sdp_store_hash. */
uint32
sdp_store_make_key(SdpEntryKey *key, Oid userid, Oid dbid, uint64 queryid,
				   bool toplevel)
{
	memset(key, 0, sizeof(SdpEntryKey));
	key->userid = userid;
	key->dbid = dbid;
	key->queryid = queryid;
	key->appid = current_appid();
	key->toplevel = toplevel;
	return key_hash(key, sizeof(SdpEntryKey));
}

static inline LocalCacheSlot *
cache_slot(uint32 hash)
{
	return &local_cache[hash & (LOCAL_CACHE_SIZE - 1)];
}

static inline void
cache_remember(const SdpEntryKey *key, uint32 hash, SdpEntry *entry)
{
	LocalCacheSlot *slot = cache_slot(hash);

	slot->generation = pg_atomic_read_u64(&sdp_store->generation);
	slot->hash = hash;
	slot->key = *key;
	slot->entry = entry;
}

/*
 * Does this backend know the entry exists?  No lock: a stale "yes" only
 * means the executor end creates the entry again (see profiler_hooks.c).
 */
bool
sdp_store_is_cached(const SdpEntryKey *key, uint32 hash)
{
	LocalCacheSlot *slot = cache_slot(hash);

	return slot->hash == hash &&
		slot->generation == pg_atomic_read_u64(&sdp_store->generation) &&
		memcmp(&slot->key, key, sizeof(SdpEntryKey)) == 0;
}

/* Find an entry.  Caller holds sdp_store->lock in any mode. */
SdpEntry *
sdp_store_lookup(const SdpEntryKey *key, uint32 hash)
{
	SdpEntry   *entry;

	if (sdp_store_is_cached(key, hash))
		return cache_slot(hash)->entry;

	entry = (SdpEntry *) hash_search_with_hash_value(sdp_store_hash, key, hash,
													 HASH_FIND, NULL);
	if (entry != NULL)
		cache_remember(key, hash, entry);
	return entry;
}

/* Add one execution to an entry.  Caller holds sdp_store->lock shared. */
void
sdp_store_record(SdpEntry *entry, double elapsed_ms, uint64 rows,
				 const BufferUsage *bufusage, const WalUsage *walusage)
{
	int			bucket = sdp_histogram_bucket(elapsed_ms);
	TimestampTz now = GetCurrentStatementStartTimestamp();
	SdpCounters *c = &entry->counters;
	double		old_mean;

	SpinLockAcquire(&entry->mutex);

	c->calls++;
	old_mean = c->mean_time;
	c->mean_time += (elapsed_ms - old_mean) / c->calls;
	c->sum_var_time += (elapsed_ms - old_mean) * (elapsed_ms - c->mean_time);
	if (c->calls == 1 || elapsed_ms < c->min_time)
		c->min_time = elapsed_ms;
	if (c->calls == 1 || elapsed_ms > c->max_time)
		c->max_time = elapsed_ms;
	c->total_time += elapsed_ms;
	c->rows += rows;
	c->histogram.counts[bucket]++;
	c->last_seen = now;

	c->shared_blks_hit += bufusage->shared_blks_hit;
	c->shared_blks_read += bufusage->shared_blks_read;
	c->shared_blks_dirtied += bufusage->shared_blks_dirtied;
	c->shared_blks_written += bufusage->shared_blks_written;
	c->local_blks_hit += bufusage->local_blks_hit;
	c->local_blks_read += bufusage->local_blks_read;
	c->local_blks_dirtied += bufusage->local_blks_dirtied;
	c->local_blks_written += bufusage->local_blks_written;
	c->temp_blks_read += bufusage->temp_blks_read;
	c->temp_blks_written += bufusage->temp_blks_written;
	c->blk_read_time += INSTR_TIME_GET_MILLISEC(bufusage->blk_read_time);
	c->blk_write_time += INSTR_TIME_GET_MILLISEC(bufusage->blk_write_time);
	c->wal_records += walusage->wal_records;
	c->wal_fpi += walusage->wal_fpi;
	c->wal_bytes += walusage->wal_bytes;

	entry->usage += 1.0;

	SpinLockRelease(&entry->mutex);
}

static int
compare_usage(const void *a, const void *b)
{
	double		ua = (*(SdpEntry *const *) a)->usage;
	double		ub = (*(SdpEntry *const *) b)->usage;

	return (ua > ub) - (ua < ub);
}

/*
 * Remove the least-used entries.  Caller holds sdp_store->lock exclusively.
 * Usage of the survivors decays, so that a shape that was hot long ago
 * eventually makes room.
 */
static void
evict_least_used(void)
{
	HASH_SEQ_STATUS scan;
	SdpEntry  **entries;
	SdpEntry   *entry;
	long		n = 0;
	long		nvictims;
	long		total = hash_get_num_entries(sdp_store_hash);

	/* we are inside a user's query: running out of memory skips eviction */
	entries = palloc_extended(sizeof(SdpEntry *) * Max(total, 1),
							  MCXT_ALLOC_NO_OOM);
	if (entries == NULL)
		return;
	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		entry->usage *= USAGE_DECAY;
		entries[n++] = entry;
	}
	qsort(entries, n, sizeof(SdpEntry *), compare_usage);

	nvictims = Min(n, Max((long) (n * EVICT_FRACTION), EVICT_MIN));

	SpinLockAcquire(&sdp_store->mutex);
	sdp_store->median_usage = n > 0 ? entries[n / 2]->usage : USAGE_INITIAL;
	SpinLockRelease(&sdp_store->mutex);

	for (long i = 0; i < nvictims; i++)
		hash_search(sdp_store_hash, &entries[i]->key, HASH_REMOVE, NULL);

	pg_atomic_fetch_add_u64(&sdp_store->generation, 1);
	pg_atomic_fetch_add_u64(&sdp_store->evictions, nvictims);
	pfree(entries);
}

/*
 * Copy text into dest, NUL-terminated, cut at max_query_text bytes on a
 * character boundary; returns the length kept.
 */
static int
copy_text(char *dest, const char *text, int len, int encoding)
{
	if (len > sdp_max_query_text)
		len = pg_encoding_mbcliplen(encoding, text, len, sdp_max_query_text);
	memcpy(dest, text, len);
	dest[len] = '\0';
	return len;
}

/* Record the search_path setting, or -1 when it is too long to keep. */
static int
copy_search_path(char *dest, const char *search_path)
{
	size_t		len = search_path ? strlen(search_path) : 0;

	if (len >= SDP_MAX_SEARCH_PATH)
	{
		dest[0] = '\0';
		return -1;
	}
	memcpy(dest, search_path ? search_path : "", len + 1);
	return (int) len;
}

/*
 * Make sure an entry exists for key, with what's texts and context if it
 * is new.  Takes and releases sdp_store->lock exclusively: only new shapes
 * come here.  Returns NULL if no entry could be made (never an error: the
 * caller is inside a user's query).
 */
SdpEntry *
sdp_store_create(const SdpEntryKey *key, uint32 hash, const SdpNewEntry *what)
{
	SdpEntry   *entry;
	bool		found;

	LWLockAcquire(sdp_store->lock, LW_EXCLUSIVE);

	entry = (SdpEntry *) hash_search_with_hash_value(sdp_store_hash, key, hash,
													 HASH_FIND, NULL);
	if (entry == NULL)
	{
		if (hash_get_num_entries(sdp_store_hash) >= sdp_max_queries)
			evict_least_used();

		entry = (SdpEntry *) hash_search_with_hash_value(sdp_store_hash, key,
														 hash, HASH_ENTER_NULL,
														 &found);
		if (entry != NULL && !found)
		{
			TimestampTz now = GetCurrentStatementStartTimestamp();

			SpinLockInit(&entry->mutex);
			memset(&entry->counters, 0, sizeof(SdpCounters));
			entry->counters.first_seen = now;
			entry->counters.last_seen = now;
			SpinLockAcquire(&sdp_store->mutex);
			entry->usage = sdp_store->median_usage;
			SpinLockRelease(&sdp_store->mutex);
			strlcpy(entry->appname, sdp_store_current_appname(), NAMEDATALEN);
			entry->search_path_len = copy_search_path(entry->search_path,
													  what->search_path);
			entry->encoding = what->encoding;
			entry->query_len = copy_text(entry->query, what->query,
										 what->query_len, what->encoding);
			entry->sample_len = what->sample == NULL ? 0 :
				copy_text(SDP_ENTRY_SAMPLE(entry), what->sample,
						  what->sample_len, what->encoding);
		}
	}
	if (entry != NULL)
		cache_remember(key, hash, entry);

	LWLockRelease(sdp_store->lock);
	return entry;
}

/*
 * Remove the entries matching the given user, database and query id (0
 * matches any).  With all three 0 everything goes and the reset time moves.
 * Returns the number of entries removed.
 */
int64
sdp_store_reset(Oid userid, Oid dbid, uint64 queryid)
{
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;
	int64		removed = 0;
	bool		everything = (userid == InvalidOid && dbid == InvalidOid &&
							  queryid == 0);

	LWLockAcquire(sdp_store->lock, LW_EXCLUSIVE);

	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if ((userid == InvalidOid || entry->key.userid == userid) &&
			(dbid == InvalidOid || entry->key.dbid == dbid) &&
			(queryid == 0 || entry->key.queryid == queryid))
		{
			hash_search(sdp_store_hash, &entry->key, HASH_REMOVE, NULL);
			removed++;
		}
	}
	pg_atomic_fetch_add_u64(&sdp_store->generation, 1);

	if (everything)
	{
		pg_atomic_write_u64(&sdp_store->evictions, 0);
		SpinLockAcquire(&sdp_store->mutex);
		sdp_store->stats_reset = GetCurrentTimestamp();
		sdp_store->median_usage = USAGE_INITIAL;
		SpinLockRelease(&sdp_store->mutex);
	}

	LWLockRelease(sdp_store->lock);
	return removed;
}

/* ----------------------------------------------------------------------
 * The query entries' part of the statistics file (stats_file.c)
 * ----------------------------------------------------------------------
 */

/* What is stored of an entry, apart from its text. */
typedef struct PersistEntry
{
	SdpEntryKey key;
	SdpCounters counters;
	double		usage;
	char		appname[NAMEDATALEN];
	int32		encoding;
	int32		search_path_len;	/* -1: not recorded */
	int32		sample_len;
	int32		query_len;
	/* then the text, the search_path and the sample, none NUL-terminated */
} PersistEntry;

/*
 * The store's fields of the file's header: the shapes of an entry, the
 * count, the reset time and the evictions.  Postmaster only (at exit, or
 * before anyone attaches), no lock.
 */
void
sdp_store_describe(SdpStatsHeader *header)
{
	header->key_size = sizeof(SdpEntryKey);
	header->counters_size = sizeof(SdpCounters);
	header->hist_buckets = SDP_HIST_BUCKETS;
	header->nentries = hash_get_num_entries(sdp_store_hash);
	header->stats_reset = sdp_store->stats_reset;
	header->evictions = pg_atomic_read_u64(&sdp_store->evictions);
}

/*
 * Write every entry, each followed by its text, search_path and sample
 * (none with query_samples off).  False when a write failed (errno set).
 * Postmaster only, at exit: no lock.
 */
bool
sdp_store_save(SdpStatsWriter *w)
{
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;

	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		PersistEntry pe;

		memset(&pe, 0, sizeof(pe));
		pe.key = entry->key;
		pe.counters = entry->counters;
		pe.usage = entry->usage;
		strlcpy(pe.appname, entry->appname, NAMEDATALEN);
		pe.encoding = entry->encoding;
		pe.search_path_len = entry->search_path_len;
		pe.sample_len = sdp_keep_samples ? entry->sample_len : 0;
		pe.query_len = entry->query_len;
		if (!sdp_stats_file_write(w, &pe, sizeof(pe)) ||
			!sdp_stats_file_write(w, entry->query, pe.query_len) ||
			!sdp_stats_file_write(w, entry->search_path,
								  Max(pe.search_path_len, 0)) ||
			!sdp_stats_file_write(w, SDP_ENTRY_SAMPLE(entry), pe.sample_len))
		{
			hash_seq_term(&scan);
			return false;
		}
	}
	return true;
}

/*
 * Check the values of a saved entry (its text is checked by the caller once
 * read).  Returns what is wrong, or NULL.
 */
static const char *
check_entry(const PersistEntry *pe)
{
	const SdpCounters *c = &pe->counters;
	SdpEntryKey key;
	uint64		bucketed = 0;

	/* the key as sdp_store_make_key() builds it, padding zeroed */
	if (!sdp_stats_valid_bool(&pe->key.toplevel))
		return "malformed key";
	memset(&key, 0, sizeof(key));
	key.userid = pe->key.userid;
	key.dbid = pe->key.dbid;
	key.queryid = pe->key.queryid;
	key.appid = pe->key.appid;
	key.toplevel = pe->key.toplevel;
	if (memcmp(&key, &pe->key, sizeof(key)) != 0 || key.queryid == 0)
		return "malformed key";

	if (!PG_VALID_BE_ENCODING(pe->encoding))
		return "invalid encoding";
	if (!sdp_stats_valid_appname(pe->appname, pe->key.appid, pe->encoding))
		return "invalid application name";
	if (!sdp_stats_valid_text_len(pe->query_len) ||
		!sdp_stats_valid_text_len(pe->sample_len))
		return "query text too long";
	if (pe->search_path_len < -1 || pe->search_path_len >= SDP_MAX_SEARCH_PATH)
		return "search_path too long";

	if (c->calls < 0 || c->rows < 0 ||
		c->shared_blks_hit < 0 || c->shared_blks_read < 0 ||
		c->shared_blks_dirtied < 0 || c->shared_blks_written < 0 ||
		c->local_blks_hit < 0 || c->local_blks_read < 0 ||
		c->local_blks_dirtied < 0 || c->local_blks_written < 0 ||
		c->temp_blks_read < 0 || c->temp_blks_written < 0 ||
		c->wal_records < 0 || c->wal_fpi < 0)
		return "negative count";
	if (!sdp_stats_valid_time(c->total_time) || !sdp_stats_valid_time(c->min_time) ||
		!sdp_stats_valid_time(c->max_time) || !sdp_stats_valid_time(c->mean_time) ||
		!sdp_stats_valid_time(c->sum_var_time) || !sdp_stats_valid_time(c->blk_read_time) ||
		!sdp_stats_valid_time(c->blk_write_time) || !sdp_stats_valid_time(pe->usage))
		return "time negative or not a number";
	if (c->calls > 0)
	{
		/* Welford's mean may stray from [min, max] by a rounding error */
		double		slack = 1e-9 * c->max_time;

		if (c->min_time > c->max_time ||
			c->mean_time < c->min_time - slack ||
			c->mean_time > c->max_time + slack)
			return "minimum, mean and maximum out of order";
	}

	/* every call lands in exactly one bucket */
	for (int b = 0; b < SDP_HIST_BUCKETS; b++)
	{
		if (c->histogram.counts[b] > (uint64) c->calls - bucketed)
			return "histogram not matching the calls";
		bucketed += c->histogram.counts[b];
	}
	if (bucketed != (uint64) c->calls)
		return "histogram not matching the calls";

	if (!IS_VALID_TIMESTAMP(c->first_seen) || !IS_VALID_TIMESTAMP(c->last_seen))
		return "timestamp out of range";
	return NULL;
}

/*
 * Read the header->nentries entries at r.  With apply false, only check
 * every value; with apply true (on contents that passed), also fill the
 * table and take the header's reset time and evictions.  Returns what is
 * wrong, or NULL; *nloaded counts the entries loaded.  Postmaster only,
 * before anyone attaches: no lock.
 */
const char *
sdp_store_load(SdpStatsReader *r, const SdpStatsHeader *header, bool apply,
			   int64 *nloaded)
{
	const char *what;

	*nloaded = 0;
	for (int64 i = 0; i < header->nentries; i++)
	{
		PersistEntry pe;
		const char *text;
		const char *search_path;
		const char *sample;
		SdpEntry   *entry;
		bool		found;
		int			len;

		if (!sdp_stats_file_read(r, &pe, sizeof(pe)))
			return "the file is shorter than its header says";
		if ((what = check_entry(&pe)) != NULL)
			return psprintf("impossible value in query entry %lld: %s",
							(long long) i + 1, what);
		if ((text = sdp_stats_file_read_text(r, pe.query_len)) == NULL ||
			(search_path = sdp_stats_file_read_text(r, Max(pe.search_path_len, 0))) == NULL ||
			(sample = sdp_stats_file_read_text(r, pe.sample_len)) == NULL)
			return "the file is shorter than its header says";
		/* this also rejects NUL bytes */
		if (!pg_verify_mbstr(pe.encoding, text, pe.query_len, true) ||
			!pg_verify_mbstr(pe.encoding, search_path, Max(pe.search_path_len, 0), true) ||
			!pg_verify_mbstr(pe.encoding, sample, pe.sample_len, true))
			return psprintf("impossible value in query entry %lld: %s",
							(long long) i + 1,
							"query text not valid in its encoding");
		if (!apply)
			continue;

		/* max_queries may have shrunk too: keep what fits */
		if (hash_get_num_entries(sdp_store_hash) >= sdp_max_queries)
			continue;
		entry = (SdpEntry *) hash_search(sdp_store_hash, &pe.key,
										 HASH_ENTER_NULL, &found);
		if (entry == NULL || found)
			continue;
		len = sdp_stats_clip_text(pe.encoding, text, pe.query_len);
		SpinLockInit(&entry->mutex);
		entry->counters = pe.counters;
		entry->usage = pe.usage;
		strlcpy(entry->appname, pe.appname, NAMEDATALEN);
		entry->encoding = pe.encoding;
		entry->query_len = len;
		memcpy(entry->query, text, len);
		entry->query[len] = '\0';
		entry->search_path_len = pe.search_path_len;
		memcpy(entry->search_path, search_path, Max(pe.search_path_len, 0));
		entry->search_path[Max(pe.search_path_len, 0)] = '\0';
		len = sdp_stats_clip_text(pe.encoding, sample, pe.sample_len);
		entry->sample_len = len;
		memcpy(SDP_ENTRY_SAMPLE(entry), sample, len);
		SDP_ENTRY_SAMPLE(entry)[len] = '\0';
		(*nloaded)++;
	}
	if (apply)
	{
		sdp_store->stats_reset = header->stats_reset;
		pg_atomic_write_u64(&sdp_store->evictions, header->evictions);
	}
	return NULL;
}
