/*-------------------------------------------------------------------------
 *
 * nplus1_store.c
 *	  The shared table of N+1 patterns behind sdp.n_plus_one: one entry per
 *	  (user, database, repeated query id, parent query id, application,
 *	  loop, nested), with how many bursts were seen, how long they were,
 *	  the time they took and the rows their parent returned, the shapes
 *	  that loop together, the framework tags of the latest burst and the
 *	  texts of both statements.
 *
 *	  Memory: a fixed-size dynahash sized by smart_dairy_perf.max_nplus1_patterns;
 *	  each entry holds two texts of at most max_query_text bytes.  When full,
 *	  the pattern that wasted the least time makes room.
 *
 *	  Locking: nplus1->lock (LWLock) exclusively to add or remove patterns,
 *	  shared to update one (plus the pattern's spinlock) or read them.  Only
 *	  confirmed bursts come here, never ordinary statements.  As in the
 *	  profiler store, a generation counter bumped on every removal lets a
 *	  backend keep a pointer to the pattern its current burst feeds.
 *
 *	  Persistence: sdp_nplus1_count(), sdp_nplus1_save() and
 *	  sdp_nplus1_load() write and read the patterns' part of the statistics
 *	  file (stats_file.c), in the postmaster only, without locking;
 *	  smart_dairy_perf.c calls them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "catalog/pg_type.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/tuplestore.h"

#include "nplus1.h"
#include "profiler_store.h"
#include "sdp_config.h"
#include "stats_file.h"

typedef struct NPlus1Shared
{
	LWLock	   *lock;
	pg_atomic_uint64 generation;	/* bumped when patterns are removed */
} NPlus1Shared;

static NPlus1Shared *nplus1 = NULL;
static HTAB *pattern_hash = NULL;

PG_FUNCTION_INFO_V1(sdp_n_plus_one_patterns);

/* The longest text a pattern keeps (smart_dairy_perf.max_query_text).  No lock. */
int
sdp_nplus1_text_room(void)
{
	return sdp_max_query_text;
}

static Size
pattern_size(void)
{
	return MAXALIGN(offsetof(SdpPattern, text) + 2 * (sdp_max_query_text + 1));
}

/* Shared memory the pattern table needs (smart_dairy_perf.max_nplus1_patterns). */
Size
sdp_nplus1_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(NPlus1Shared)),
					hash_estimate_size(sdp_max_nplus1_patterns, pattern_size()));
}

/* Attach to (or create) the pattern table.  Caller holds AddinShmemInitLock. */
void
sdp_nplus1_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	nplus1 = ShmemInitStruct("smart_dairy_perf n+1", sizeof(NPlus1Shared),
							 &found);
	if (!found)
	{
		nplus1->lock = &(GetNamedLWLockTranche("smart_dairy_perf"))[2].lock;
		pg_atomic_init_u64(&nplus1->generation, 1);
	}
	info.keysize = sizeof(SdpPatternKey);
	info.entrysize = pattern_size();
	pattern_hash = ShmemInitHash("smart_dairy_perf n+1 patterns",
								 sdp_max_nplus1_patterns,
								 sdp_max_nplus1_patterns,
								 &info, HASH_ELEM | HASH_BLOBS);
}


/* The table's generation, bumped by every reset and removal; no lock (atomic read). */
uint64
sdp_nplus1_generation(void)
{
	return pg_atomic_read_u64(&nplus1->generation);
}

static void
set_texts(SdpPattern *p, const char *query, int query_len,
		  const char *parent, int parent_len)
{
	query_len = Min(query_len, sdp_max_query_text);
	memcpy(p->text, query, query_len);
	p->text[query_len] = '\0';
	p->query_len = query_len;
	if (parent == NULL || parent_len < 0)
		p->parent_len = -1;
	else
	{
		parent_len = Min(parent_len, sdp_max_query_text);
		memcpy(p->text + query_len + 1, parent, parent_len);
		p->text[query_len + 1 + parent_len] = '\0';
		p->parent_len = parent_len;
	}
}

/* Make room: drop the pattern that wasted the least time. Lock held exclusively. */
static void
evict_cheapest(void)
{
	HASH_SEQ_STATUS scan;
	SdpPattern *p;
	SdpPattern *victim = NULL;

	hash_seq_init(&scan, pattern_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
		if (victim == NULL ||
			p->counters.total_exec_ms < victim->counters.total_exec_ms)
			victim = p;
	if (victim != NULL)
	{
		hash_search(pattern_hash, &victim->key, HASH_REMOVE, NULL);
		pg_atomic_fetch_add_u64(&nplus1->generation, 1);
	}
}

/*
 * A burst reached the threshold: count it as one occurrence of its pattern,
 * creating the pattern if needed.  Returns the pattern (valid while the
 * generation does not change), or NULL if there was no room.  Takes the
 * N+1 lock exclusively; caller holds none.
 */
SdpPattern *
sdp_nplus1_confirm(const SdpPatternKey *key, const SdpBurst *burst,
				   bool *is_new)
{
	SdpPattern *p;
	bool		found;
	TimestampTz now = GetCurrentStatementStartTimestamp();

	*is_new = false;
	LWLockAcquire(nplus1->lock, LW_EXCLUSIVE);
	p = hash_search(pattern_hash, key, HASH_FIND, NULL);
	if (p == NULL)
	{
		if (hash_get_num_entries(pattern_hash) >= sdp_max_nplus1_patterns)
			evict_cheapest();
		p = hash_search(pattern_hash, key, HASH_ENTER_NULL, &found);
		if (p != NULL && !found)
		{
			SpinLockInit(&p->mutex);
			memset(&p->counters, 0, sizeof(SdpPatternCounters));
			p->counters.first_seen = now;
			p->kind = burst->kind;
			p->loop = *burst->loop;
			strlcpy(p->appname, sdp_store_current_appname(), NAMEDATALEN);
			p->encoding = GetDatabaseEncoding();
			set_texts(p, burst->query, burst->query_len, burst->parent,
					  burst->parent_len);
			*is_new = true;
		}
	}
	if (p != NULL)
	{
		SpinLockAcquire(&p->mutex);
		p->counters.occurrences++;
		p->counters.total_repeats += burst->repeats;
		p->counters.max_repeats = Max(p->counters.max_repeats, burst->repeats);
		p->counters.total_exec_ms += burst->exec_ms;
		if (burst->parent_rows >= 0)
		{
			p->counters.parent_rows += burst->parent_rows;
			p->counters.parent_rows_known++;
		}
		p->counters.last_seen = now;
		/* the latest tags: the code that runs the loop now */
		if (burst->tags[0] != '\0' || *is_new)
			strlcpy(p->tags, burst->tags, SDP_NPLUS1_TAGS_LEN);
		SpinLockRelease(&p->mutex);
	}
	LWLockRelease(nplus1->lock);
	return p;
}

/*
 * More executions of a confirmed burst (count of them, exec_ms in all, the
 * burst now repeats_now long).  Takes the N+1 lock shared and the
 * pattern's spinlock.
 */
void
sdp_nplus1_add_repeat(SdpPattern *p, uint64 generation, int64 count,
					  int64 repeats_now, double exec_ms)
{
	LWLockAcquire(nplus1->lock, LW_SHARED);
	if (pg_atomic_read_u64(&nplus1->generation) == generation)
	{
		SpinLockAcquire(&p->mutex);
		p->counters.total_repeats += count;
		p->counters.max_repeats = Max(p->counters.max_repeats, repeats_now);
		p->counters.total_exec_ms += exec_ms;
		SpinLockRelease(&p->mutex);
	}
	LWLockRelease(nplus1->lock);
}

/* Forget the patterns of one repeated query id, or all (0).  Takes the N+1 lock exclusively. */
void
sdp_nplus1_reset(uint64 queryid)
{
	HASH_SEQ_STATUS scan;
	SdpPattern *p;

	if (nplus1 == NULL)
		return;
	LWLockAcquire(nplus1->lock, LW_EXCLUSIVE);
	hash_seq_init(&scan, pattern_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
		if (queryid == 0 || p->key.queryid == queryid)
			hash_search(pattern_hash, &p->key, HASH_REMOVE, NULL);
	pg_atomic_fetch_add_u64(&nplus1->generation, 1);
	LWLockRelease(nplus1->lock);
}

#define PATTERN_COLS 23

/* sdp.n_plus_one_patterns(showtext): the rows behind sdp.n_plus_one */
Datum
sdp_n_plus_one_patterns(PG_FUNCTION_ARGS)
{
	bool		showtext = PG_GETARG_BOOL(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			me = GetUserId();
	bool		see_all;
	HASH_SEQ_STATUS scan;
	SdpPattern *p;

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	see_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);

	LWLockAcquire(nplus1->lock, LW_SHARED);
	hash_seq_init(&scan, pattern_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
	{
		Datum		values[PATTERN_COLS];
		bool		nulls[PATTERN_COLS];
		SdpPatternCounters c;
		char		c_tags[SDP_NPLUS1_TAGS_LEN];
		bool		visible = see_all || p->key.userid == me;
		int			i = 0;

		SpinLockAcquire(&p->mutex);
		c = p->counters;
		memcpy(c_tags, p->tags, SDP_NPLUS1_TAGS_LEN);
		SpinLockRelease(&p->mutex);
		memset(nulls, 0, sizeof(nulls));

		values[i++] = ObjectIdGetDatum(p->key.userid);
		values[i++] = ObjectIdGetDatum(p->key.dbid);
		if (visible)
			values[i++] = Int64GetDatumFast((int64) p->key.queryid);
		else
			nulls[i++] = true;
		if (!showtext)
			nulls[i++] = true;
		else
			values[i++] = CStringGetTextDatum(visible ? p->text : "<insufficient privilege>");
		values[i++] = CStringGetTextDatum(p->kind == SDP_LOOP_DML ?
										  "row_by_row_dml" : "select_loop");
		if (visible && p->key.parent_queryid != 0)
			values[i++] = Int64GetDatumFast((int64) p->key.parent_queryid);
		else
			nulls[i++] = true;
		if (!showtext || p->parent_len < 0)
			nulls[i++] = true;
		else
			values[i++] = CStringGetTextDatum(visible ? p->text + p->query_len + 1
											  : "<insufficient privilege>");
		values[i++] = Int64GetDatumFast(c.occurrences);
		values[i++] = Int64GetDatumFast(c.total_repeats);
		values[i++] = Int64GetDatumFast(c.max_repeats);
		values[i++] = Float8GetDatumFast(c.total_exec_ms);
		values[i++] = BoolGetDatum(p->key.nested);
		values[i++] = CStringGetTextDatum(p->appname);
		values[i++] = TimestampTzGetDatum(c.first_seen);
		values[i++] = TimestampTzGetDatum(c.last_seen);
		/* the loop this shape belongs to */
		if (visible)
		{
			Datum		ids[SDP_NPLUS1_MAX_PERIOD];

			for (int k = 0; k < p->loop.nshapes; k++)
				ids[k] = Int64GetDatumFast((int64) p->loop.queryids[k]);
			values[i++] = Int64GetDatumFast((int64) p->key.loop_id);
			values[i++] = PointerGetDatum(construct_array(ids, p->loop.nshapes, INT8OID,
														  8, FLOAT8PASSBYVAL,
														  TYPALIGN_DOUBLE));
		}
		else
		{
			nulls[i++] = true;
			nulls[i++] = true;
		}
		values[i++] = Int32GetDatum(p->loop.position);
		values[i++] = Int32GetDatum(p->loop.per_iteration);
		values[i++] = CStringGetTextDatum(p->loop.origin == SDP_ORIGIN_FOREIGN_KEY ?
										  "foreign_key_check" :
										  p->loop.origin == SDP_ORIGIN_SYSTEM ?
										  "system_function" :
										  p->loop.origin == SDP_ORIGIN_EXTENSION ?
										  "extension" : "application");
		values[i++] = Int64GetDatumFast(c.parent_rows);
		values[i++] = Int64GetDatumFast(c.parent_rows_known);
		if (!showtext || c_tags[0] == '\0')
			nulls[i++] = true;
		else
			values[i++] = CStringGetTextDatum(visible ? c_tags : "<insufficient privilege>");
		Assert(i == PATTERN_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(nplus1->lock);
	return (Datum) 0;
}

/* ----------------------------------------------------------------------
 * The patterns' part of the statistics file (stats_file.c)
 * ----------------------------------------------------------------------
 */

/* What is stored of an N+1 pattern, apart from its texts. */
typedef struct PersistPattern
{
	SdpPatternKey key;
	SdpPatternCounters counters;
	SdpLoopShape loop;
	char		tags[SDP_NPLUS1_TAGS_LEN];
	char		appname[NAMEDATALEN];
	int32		kind;
	int32		encoding;
	int32		query_len;
	int32		parent_len;		/* -1: none */
} PersistPattern;

/* The number of patterns, for the file's header.  Postmaster only, no lock. */
int64
sdp_nplus1_count(void)
{
	return hash_get_num_entries(pattern_hash);
}

/*
 * Write every pattern, each followed by its query's text and its parent's
 * (when known).  False when a write failed (errno set).  Postmaster only,
 * at exit: no lock.
 */
bool
sdp_nplus1_save(SdpStatsWriter *w)
{
	HASH_SEQ_STATUS scan;
	SdpPattern *p;

	hash_seq_init(&scan, pattern_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
	{
		PersistPattern pp;
		int			parent_bytes = Max(p->parent_len, 0);

		memset(&pp, 0, sizeof(pp));
		pp.key = p->key;
		pp.counters = p->counters;
		pp.loop = p->loop;
		strlcpy(pp.tags, p->tags, SDP_NPLUS1_TAGS_LEN);
		strlcpy(pp.appname, p->appname, NAMEDATALEN);
		pp.kind = p->kind;
		pp.encoding = p->encoding;
		pp.query_len = p->query_len;
		pp.parent_len = p->parent_len;
		if (!sdp_stats_file_write(w, &pp, sizeof(pp)) ||
			!sdp_stats_file_write(w, p->text, pp.query_len) ||
			!sdp_stats_file_write(w, p->text + p->query_len + 1, parent_bytes))
		{
			hash_seq_term(&scan);
			return false;
		}
	}
	return true;
}

/* As profiler_store.c's check_entry(), for a saved pattern. */
static const char *
check_pattern(const PersistPattern *pp)
{
	const SdpPatternCounters *c = &pp->counters;
	SdpPatternKey key;

	/* the key as nplus1.c builds it, padding zeroed */
	if (!sdp_stats_valid_bool(&pp->key.nested))
		return "malformed key";
	memset(&key, 0, sizeof(key));
	key.userid = pp->key.userid;
	key.dbid = pp->key.dbid;
	key.queryid = pp->key.queryid;
	key.parent_queryid = pp->key.parent_queryid;
	key.appid = pp->key.appid;
	key.loop_id = pp->key.loop_id;
	key.nested = pp->key.nested;
	if (memcmp(&key, &pp->key, sizeof(key)) != 0 || key.queryid == 0)
		return "malformed key";

	if (pp->kind != SDP_LOOP_SELECT && pp->kind != SDP_LOOP_DML)
		return "unknown kind of loop";
	if (!PG_VALID_BE_ENCODING(pp->encoding))
		return "invalid encoding";
	if (pp->loop.nshapes < 1 || pp->loop.nshapes > SDP_NPLUS1_MAX_PERIOD ||
		pp->loop.position < 1 || pp->loop.position > pp->loop.nshapes ||
		pp->loop.per_iteration < 1 || pp->loop.per_iteration > SDP_NPLUS1_MAX_PERIOD ||
		pp->loop.queryids[pp->loop.position - 1] != pp->key.queryid ||
		(pp->loop.origin != SDP_ORIGIN_APPLICATION &&
		 pp->loop.origin != SDP_ORIGIN_FOREIGN_KEY &&
		 pp->loop.origin != SDP_ORIGIN_SYSTEM &&
		 pp->loop.origin != SDP_ORIGIN_EXTENSION))
		return "malformed loop";
	if (memchr(pp->tags, '\0', SDP_NPLUS1_TAGS_LEN) == NULL ||
		!pg_verify_mbstr(pp->encoding, pp->tags, strlen(pp->tags), true))
		return "invalid tags";
	if (!sdp_stats_valid_appname(pp->appname, pp->key.appid, pp->encoding))
		return "invalid application name";
	if (!sdp_stats_valid_text_len(pp->query_len) ||
		(pp->parent_len != -1 && !sdp_stats_valid_text_len(pp->parent_len)))
		return "query text too long";

	/* a burst has at least one execution, and the longest is one of them */
	if (c->occurrences < 0 || c->total_repeats < 0 || c->max_repeats < 0 ||
		c->occurrences > c->total_repeats || c->max_repeats > c->total_repeats ||
		c->parent_rows < 0 || c->parent_rows_known < 0 ||
		c->parent_rows_known > c->occurrences)
		return "negative or inconsistent count";
	if (!sdp_stats_valid_time(c->total_exec_ms))
		return "time negative or not a number";
	if (!IS_VALID_TIMESTAMP(c->first_seen) || !IS_VALID_TIMESTAMP(c->last_seen))
		return "timestamp out of range";
	return NULL;
}

/* Re-create a saved pattern; NULL when there is no room or it exists. */
static SdpPattern *
restore_pattern(const PersistPattern *pp, const char *query, int query_len,
				const char *parent, int parent_len)
{
	SdpPattern *p;
	bool		found;

	if (hash_get_num_entries(pattern_hash) >= sdp_max_nplus1_patterns)
		return NULL;
	p = hash_search(pattern_hash, &pp->key, HASH_ENTER_NULL, &found);
	if (p == NULL || found)
		return NULL;
	SpinLockInit(&p->mutex);
	p->counters = pp->counters;
	p->kind = (char) pp->kind;
	p->loop = pp->loop;
	strlcpy(p->tags, pp->tags, SDP_NPLUS1_TAGS_LEN);
	strlcpy(p->appname, pp->appname, NAMEDATALEN);
	p->encoding = pp->encoding;
	set_texts(p, query, query_len, parent, parent_len);
	return p;
}

/*
 * Read npatterns patterns at r.  With apply false, only check every value;
 * with apply true (on contents that passed), also fill the table.  Returns
 * what is wrong, or NULL; *nloaded counts the patterns loaded.  Postmaster
 * only, before anyone attaches: no lock.
 */
const char *
sdp_nplus1_load(SdpStatsReader *r, int64 npatterns, bool apply, int64 *nloaded)
{
	const char *what;

	*nloaded = 0;
	for (int64 i = 0; i < npatterns; i++)
	{
		PersistPattern pp;
		const char *text;
		const char *parent = NULL;

		if (!sdp_stats_file_read(r, &pp, sizeof(pp)))
			return "the file is shorter than its header says";
		if ((what = check_pattern(&pp)) != NULL)
			return psprintf("impossible value in N+1 pattern %lld: %s",
							(long long) i + 1, what);
		if ((text = sdp_stats_file_read_text(r, pp.query_len)) == NULL ||
			(pp.parent_len >= 0 &&
			 (parent = sdp_stats_file_read_text(r, pp.parent_len)) == NULL))
			return "the file is shorter than its header says";
		if (!pg_verify_mbstr(pp.encoding, text, pp.query_len, true) ||
			(parent != NULL &&
			 !pg_verify_mbstr(pp.encoding, parent, pp.parent_len, true)))
			return psprintf("impossible value in N+1 pattern %lld: %s",
							(long long) i + 1,
							"query text not valid in its encoding");
		if (!apply)
			continue;

		if (restore_pattern(&pp, text,
							sdp_stats_clip_text(pp.encoding, text, pp.query_len),
							parent,
							parent ? sdp_stats_clip_text(pp.encoding, parent,
														 pp.parent_len) : -1) != NULL)
			(*nloaded)++;
	}
	return NULL;
}
