/*-------------------------------------------------------------------------
 *
 * profiler_sql.c
 *	  SQL-callable functions of the profiler: the rows of sdp.query_stats and
 *	  sdp.query_totals, sdp.slow_queries and sdp.profiler_info.  sdp.reset(),
 *	  which resets every store, is at the top (smart_dairy_perf.c).
 *
 *	  Reading: entries are copied out under the store's lock held shared
 *	  (each entry's counters under its spinlock), then the lock is released
 *	  before any row is formed, so a slow reader never holds up writers.
 *
 *	  Privacy: the text and query id of another user's statement are shown
 *	  only to members of pg_read_all_stats, as pg_stat_statements does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "histogram.h"
#include "profiler_store.h"
#include "sdp_config.h"
#include "slow_queries.h"

PG_FUNCTION_INFO_V1(sdp_query_stats);
PG_FUNCTION_INFO_V1(sdp_slow_queries);
PG_FUNCTION_INFO_V1(sdp_slow_query_plans);
PG_FUNCTION_INFO_V1(sdp_profiler_info);
PG_FUNCTION_INFO_V1(sdp_query_histograms);

/* A copy of one entry, taken under the locks. */
typedef struct StatSnapshot
{
	SdpEntryKey key;
	SdpCounters counters;
	char		appname[NAMEDATALEN];
	char	   *query;			/* NULL when not visible or not asked for */
} StatSnapshot;

static int
compare_query_identity(const void *a, const void *b)
{
	const SdpEntryKey *ka = &((const StatSnapshot *) a)->key;
	const SdpEntryKey *kb = &((const StatSnapshot *) b)->key;

	if (ka->userid != kb->userid)
		return ka->userid < kb->userid ? -1 : 1;
	if (ka->dbid != kb->dbid)
		return ka->dbid < kb->dbid ? -1 : 1;
	if (ka->queryid != kb->queryid)
		return ka->queryid < kb->queryid ? -1 : 1;
	if (ka->toplevel != kb->toplevel)
		return ka->toplevel ? -1 : 1;
	return 0;
}

/*
 * Combine two series of timings (count, total, min, max, mean and
 * Welford's sum of squared deviations) into the first.
 */
static void
merge_timings(int64 *n_a, double *total_a, double *min_a, double *max_a,
			  double *mean_a, double *sum_var_a,
			  int64 n_b, double total_b, double min_b, double max_b,
			  double mean_b, double sum_var_b)
{
	int64		n = *n_a + n_b;
	double		delta = mean_b - *mean_a;

	if (n_b == 0)
		return;
	if (*n_a == 0)
	{
		*min_a = min_b;
		*max_a = max_b;
		*mean_a = mean_b;
		*sum_var_a = sum_var_b;
	}
	else
	{
		*sum_var_a += sum_var_b + delta * delta * ((double) *n_a * n_b / n);
		*mean_a += delta * n_b / n;
		*min_a = Min(*min_a, min_b);
		*max_a = Max(*max_a, max_b);
	}
	*n_a = n;
	*total_a += total_b;
}

/* Fold b into a: the same statement seen from another application. */
static void
merge_counters(SdpCounters *a, const SdpCounters *b)
{
	merge_timings(&a->calls, &a->total_time, &a->min_time, &a->max_time,
				  &a->mean_time, &a->sum_var_time,
				  b->calls, b->total_time, b->min_time, b->max_time,
				  b->mean_time, b->sum_var_time);
	merge_timings(&a->plans, &a->total_plan_time, &a->min_plan_time,
				  &a->max_plan_time, &a->mean_plan_time, &a->sum_var_plan_time,
				  b->plans, b->total_plan_time, b->min_plan_time,
				  b->max_plan_time, b->mean_plan_time, b->sum_var_plan_time);
	a->rows += b->rows;
	a->shared_blks_hit += b->shared_blks_hit;
	a->shared_blks_read += b->shared_blks_read;
	a->shared_blks_dirtied += b->shared_blks_dirtied;
	a->shared_blks_written += b->shared_blks_written;
	a->local_blks_hit += b->local_blks_hit;
	a->local_blks_read += b->local_blks_read;
	a->local_blks_dirtied += b->local_blks_dirtied;
	a->local_blks_written += b->local_blks_written;
	a->temp_blks_read += b->temp_blks_read;
	a->temp_blks_written += b->temp_blks_written;
	a->blk_read_time += b->blk_read_time;
	a->blk_write_time += b->blk_write_time;
	a->temp_blk_read_time += b->temp_blk_read_time;
	a->temp_blk_write_time += b->temp_blk_write_time;
	a->wal_records += b->wal_records;
	a->wal_fpi += b->wal_fpi;
	a->wal_bytes += b->wal_bytes;
	a->jit_functions += b->jit_functions;
	a->jit_generation_time += b->jit_generation_time;
	a->jit_inlining_count += b->jit_inlining_count;
	a->jit_inlining_time += b->jit_inlining_time;
	a->jit_optimization_count += b->jit_optimization_count;
	a->jit_optimization_time += b->jit_optimization_time;
	a->jit_emission_count += b->jit_emission_count;
	a->jit_emission_time += b->jit_emission_time;
	a->first_seen = Min(a->first_seen, b->first_seen);
	a->last_seen = Max(a->last_seen, b->last_seen);
	sdp_histogram_add(&a->histogram, &b->histogram);
}

static StatSnapshot *
take_snapshot(bool showtext, Oid me, bool see_all, long *count)
{
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;
	StatSnapshot *snaps;
	long		n = 0;
	long		capacity;

	LWLockAcquire(sdp_store->lock, LW_SHARED);
	capacity = Max(hash_get_num_entries(sdp_store_hash), 1);
	snaps = palloc(sizeof(StatSnapshot) * capacity);

	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		StatSnapshot *s = &snaps[n];

		SpinLockAcquire(&entry->mutex);
		s->counters = entry->counters;
		SpinLockRelease(&entry->mutex);

		/* parsed but never planned nor finished (failed): nothing to show */
		if (s->counters.calls == 0 && s->counters.plans == 0)
			continue;

		s->key = entry->key;
		memcpy(s->appname, entry->appname, NAMEDATALEN);
		s->query = (showtext && (see_all || entry->key.userid == me))
			? pnstrdup(entry->query, entry->query_len) : NULL;
		n++;
	}
	LWLockRelease(sdp_store->lock);

	*count = n;
	return snaps;
}

static Datum
percentile_datum(const SdpCounters *c, double fraction, bool *isnull)
{
	double		v = sdp_histogram_percentile(&c->histogram, fraction,
											 c->min_time, c->max_time);

	*isnull = isnan(v);
	return Float8GetDatum(v);
}

#define QUERY_STATS_COLS 49

static void
emit_stat_row(ReturnSetInfo *rsinfo, const StatSnapshot *s, bool showtext,
			  bool by_application, bool visible)
{
	const SdpCounters *c = &s->counters;
	Datum		values[QUERY_STATS_COLS];
	bool		nulls[QUERY_STATS_COLS];
	char		buf[32];
	int			i = 0;

	memset(nulls, 0, sizeof(nulls));

	values[i++] = ObjectIdGetDatum(s->key.userid);
	values[i++] = ObjectIdGetDatum(s->key.dbid);
	values[i++] = BoolGetDatum(s->key.toplevel);
	if (visible)
		values[i++] = Int64GetDatumFast((int64) s->key.queryid);
	else
		nulls[i++] = true;
	if (!showtext)
		nulls[i++] = true;
	else if (s->query != NULL)
		values[i++] = CStringGetTextDatum(s->query);
	else
		values[i++] = CStringGetTextDatum("<insufficient privilege>");
	if (by_application)
		values[i++] = CStringGetTextDatum(s->appname);
	else
		nulls[i++] = true;

	values[i++] = Int64GetDatumFast(c->calls);
	values[i++] = Float8GetDatumFast(c->total_time);
	values[i++] = Float8GetDatumFast(c->min_time);
	values[i++] = Float8GetDatumFast(c->max_time);
	values[i++] = Float8GetDatumFast(c->mean_time);
	values[i++] = Float8GetDatum(c->calls > 1 ? sqrt(c->sum_var_time / c->calls) : 0.0);
	values[i] = percentile_datum(c, 0.50, &nulls[i]);
	i++;
	values[i] = percentile_datum(c, 0.95, &nulls[i]);
	i++;
	values[i] = percentile_datum(c, 0.99, &nulls[i]);
	i++;
	values[i++] = Int64GetDatumFast(c->rows);
	values[i++] = Int64GetDatumFast(c->shared_blks_hit);
	values[i++] = Int64GetDatumFast(c->shared_blks_read);
	values[i++] = Int64GetDatumFast(c->shared_blks_dirtied);
	values[i++] = Int64GetDatumFast(c->shared_blks_written);
	values[i++] = Int64GetDatumFast(c->local_blks_hit);
	values[i++] = Int64GetDatumFast(c->local_blks_read);
	values[i++] = Int64GetDatumFast(c->local_blks_dirtied);
	values[i++] = Int64GetDatumFast(c->local_blks_written);
	values[i++] = Int64GetDatumFast(c->temp_blks_read);
	values[i++] = Int64GetDatumFast(c->temp_blks_written);
	values[i++] = Float8GetDatumFast(c->blk_read_time);
	values[i++] = Float8GetDatumFast(c->blk_write_time);
	values[i++] = Int64GetDatumFast(c->wal_records);
	values[i++] = Int64GetDatumFast(c->wal_fpi);
	snprintf(buf, sizeof(buf), UINT64_FORMAT, c->wal_bytes);
	values[i++] = DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
									  ObjectIdGetDatum(InvalidOid),
									  Int32GetDatum(-1));
	values[i++] = TimestampTzGetDatum(c->first_seen);
	values[i++] = TimestampTzGetDatum(c->last_seen);
	values[i++] = Int64GetDatumFast(c->plans);
	values[i++] = Float8GetDatumFast(c->total_plan_time);
	values[i++] = Float8GetDatumFast(c->min_plan_time);
	values[i++] = Float8GetDatumFast(c->max_plan_time);
	values[i++] = Float8GetDatumFast(c->mean_plan_time);
	values[i++] = Float8GetDatum(c->plans > 1 ? sqrt(c->sum_var_plan_time / c->plans) : 0.0);
	values[i++] = Float8GetDatumFast(c->temp_blk_read_time);
	values[i++] = Float8GetDatumFast(c->temp_blk_write_time);
	values[i++] = Int64GetDatumFast(c->jit_functions);
	values[i++] = Float8GetDatumFast(c->jit_generation_time);
	values[i++] = Int64GetDatumFast(c->jit_inlining_count);
	values[i++] = Float8GetDatumFast(c->jit_inlining_time);
	values[i++] = Int64GetDatumFast(c->jit_optimization_count);
	values[i++] = Float8GetDatumFast(c->jit_optimization_time);
	values[i++] = Int64GetDatumFast(c->jit_emission_count);
	values[i++] = Float8GetDatumFast(c->jit_emission_time);
	Assert(i == QUERY_STATS_COLS);

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * sdp.query_stats(showtext boolean, by_application boolean)
 * One row per (user, database, query id, top-level, application), or, with
 * by_application false, per (user, database, query id, top-level) with the
 * applications' counters and histograms added up.
 */
Datum
sdp_query_stats(PG_FUNCTION_ARGS)
{
	bool		showtext = PG_GETARG_BOOL(0);
	bool		by_application = PG_GETARG_BOOL(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			me = GetUserId();
	bool		see_all;
	StatSnapshot *snaps;
	long		n;

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	see_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);

	snaps = take_snapshot(showtext, me, see_all, &n);

	if (!by_application && n > 1)
	{
		long		out = 0;

		qsort(snaps, n, sizeof(StatSnapshot), compare_query_identity);
		for (long i = 0; i < n; i++)
		{
			if (out > 0 && compare_query_identity(&snaps[out - 1], &snaps[i]) == 0)
				merge_counters(&snaps[out - 1].counters, &snaps[i].counters);
			else
				snaps[out++] = snaps[i];
		}
		n = out;
	}

	for (long i = 0; i < n; i++)
		emit_stat_row(rsinfo, &snaps[i], showtext, by_application,
					  see_all || snaps[i].key.userid == me);

	return (Datum) 0;
}

/*
 * Upper bounds (ms) of the cumulative buckets sdp.metrics() publishes;
 * +Inf is the call count.  A fine bucket that straddles a bound is counted
 * under the next one, so a count may leave out executions up to 9 % below
 * its bound (the histogram's resolution), never include one above it.
 */
static const double metric_bounds_ms[] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

/*
 * sdp._query_histograms(): per visible entry (user, database, query id,
 * top-level, application), its executions at or under each bound.
 */
Datum
sdp_query_histograms(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			me = GetUserId();
	bool		see_all;
	StatSnapshot *snaps;
	long		n;

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	see_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
	snaps = take_snapshot(false, me, see_all, &n);

	for (long i = 0; i < n; i++)
	{
		const SdpHistogram *h = &snaps[i].counters.histogram;
		uint64		cumulative = 0;
		int			bucket = 0;

		if (!see_all && snaps[i].key.userid != me)
			continue;
		for (int b = 0; b < lengthof(metric_bounds_ms); b++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};

			while (bucket < SDP_HIST_BUCKETS - 1 &&
				   sdp_histogram_bucket_upper_ms(bucket) <= metric_bounds_ms[b] * 1.0000001)
				cumulative += h->counts[bucket++];
			values[0] = ObjectIdGetDatum(snaps[i].key.dbid);
			values[1] = Int64GetDatumFast((int64) snaps[i].key.queryid);
			values[2] = Float8GetDatum(metric_bounds_ms[b]);
			values[3] = Int64GetDatumFast((int64) cumulative);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/* sdp._slow_query_plans(): structured plans of this database's slow executions */
Datum
sdp_slow_query_plans(PG_FUNCTION_ARGS)
{
	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	sdp_slow_fill_plans((ReturnSetInfo *) fcinfo->resultinfo);
	return (Datum) 0;
}

/* sdp.slow_queries(showtext boolean) */
Datum
sdp_slow_queries(PG_FUNCTION_ARGS)
{
	bool		showtext = PG_GETARG_BOOL(0);

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	sdp_slow_fill_tuplestore((ReturnSetInfo *) fcinfo->resultinfo, showtext);
	return (Datum) 0;
}

/* sdp.profiler_info(): one row describing the profiler itself */
Datum
sdp_profiler_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8];
	long		entries;
	TimestampTz reset;

	sdp_store_check_loaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(sdp_store->lock, LW_SHARED);
	entries = hash_get_num_entries(sdp_store_hash);
	LWLockRelease(sdp_store->lock);
	SpinLockAcquire(&sdp_store->mutex);
	reset = sdp_store->stats_reset;
	SpinLockRelease(&sdp_store->mutex);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(entries);
	values[1] = Int32GetDatum(sdp_max_queries);
	values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&sdp_store->evictions));
	values[3] = TimestampTzGetDatum(reset);
	values[4] = Int64GetDatum((int64) add_size(sdp_store_shmem_size(),
											   sdp_slow_shmem_size()));
	values[5] = Int64GetDatum((int64) sdp_slow_captured_total());
	values[6] = Int32GetDatum(sdp_max_slow_queries);
	values[7] = Float8GetDatum(SDP_HIST_MAX_REL_ERROR);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
