/*-------------------------------------------------------------------------
 *
 * query_samples.c
 *	  sdp.query_samples: per profiled shape, the context it was first run
 *	  in (application, search_path) and one sample of its text with the
 *	  real constants, as profiler_store.c recorded them when the entry was
 *	  created.  The index advisor plans a shape under its search_path, and
 *	  plans the sample when the normalized text does not parse; the N+1
 *	  report shows the sample beside a pattern.
 *
 *	  Reading: each entry's fields are copied under the store's lock held
 *	  shared (they never change while the entry exists, so no spinlock
 *	  except for the call count); rows are formed after the lock is
 *	  released.
 *
 *	  Privacy: as for the normalized text, another user's query id,
 *	  search_path and sample are shown only to members of
 *	  pg_read_all_stats.  With smart_dairy_perf.query_samples off no sample
 *	  is shown at all (sample_query is NULL), whatever was kept before.
 *
 *	  Does not own: the entries (profiler_store.c) or their capture
 *	  (profiler_hooks.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "profiler_store.h"
#include "sdp_config.h"

PG_FUNCTION_INFO_V1(sdp_query_samples);

#define QUERY_SAMPLES_COLS 7

/* A copy of one entry's context, taken under the lock. */
typedef struct SampleCopy
{
	SdpEntryKey key;
	char		appname[NAMEDATALEN];
	char	   *search_path;	/* NULL: not recorded, or not visible */
	char	   *sample;			/* NULL: none, or not visible */
	bool		visible;
} SampleCopy;

static SampleCopy *
copy_samples(Oid me, bool see_all, long *count)
{
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;
	SampleCopy *copies;
	long		n = 0;

	LWLockAcquire(sdp_store->lock, LW_SHARED);
	copies = palloc(sizeof(SampleCopy) * Max(hash_get_num_entries(sdp_store_hash), 1));
	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		SampleCopy *c = &copies[n];
		int64		calls;

		SpinLockAcquire(&entry->mutex);
		calls = entry->counters.calls;
		SpinLockRelease(&entry->mutex);
		/* parsed but never finished: not in sdp.query_stats either */
		if (calls == 0)
			continue;

		c->key = entry->key;
		memcpy(c->appname, entry->appname, NAMEDATALEN);
		c->visible = see_all || entry->key.userid == me;
		c->search_path = c->visible && entry->search_path_len >= 0 ?
			pnstrdup(entry->search_path, entry->search_path_len) : NULL;
		c->sample = c->visible && sdp_keep_samples && entry->sample_len > 0 ?
			pnstrdup(SDP_ENTRY_SAMPLE(entry), entry->sample_len) : NULL;
		n++;
	}
	LWLockRelease(sdp_store->lock);
	*count = n;
	return copies;
}

/*
 * sdp._query_samples(): one row per entry of sdp.query_stats (user,
 * database, query id, top-level, application) with its search_path and
 * sample.  Takes the store's lock shared while copying.
 */
Datum
sdp_query_samples(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			me = GetUserId();
	bool		see_all;
	SampleCopy *copies;
	long		n;

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	see_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
	copies = copy_samples(me, see_all, &n);

	for (long i = 0; i < n; i++)
	{
		SampleCopy *c = &copies[i];
		Datum		values[QUERY_SAMPLES_COLS];
		bool		nulls[QUERY_SAMPLES_COLS] = {0};

		values[0] = ObjectIdGetDatum(c->key.userid);
		values[1] = ObjectIdGetDatum(c->key.dbid);
		if (c->visible)
			values[2] = Int64GetDatumFast((int64) c->key.queryid);
		else
			nulls[2] = true;
		values[3] = BoolGetDatum(c->key.toplevel);
		values[4] = CStringGetTextDatum(c->appname);
		if (c->search_path != NULL)
			values[5] = CStringGetTextDatum(c->search_path);
		else
			nulls[5] = true;
		if (c->sample != NULL)
			values[6] = CStringGetTextDatum(c->sample);
		else if (!c->visible)
			values[6] = CStringGetTextDatum("<insufficient privilege>");
		else
			nulls[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
