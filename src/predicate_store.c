/*-------------------------------------------------------------------------
 *
 * predicate_store.c
 *	  The shared table of predicates observed in executed plans
 *	  (predicate_sampler.c), and its reading: sdp.observed_predicates and
 *	  the index advisor's extra workload.
 *
 *	  Memory: a fixed-size dynahash of smart_dairy_perf.max_predicates
 *	  entries of about 120 bytes, keyed by database, scanned table or
 *	  partition, kind and the column tests (operators as OIDs).  When full,
 *	  the entry with the least estimated time makes room.
 *
 *	  Locking: the table's LWLock exclusively only to add or remove an
 *	  entry, shared (plus the entry's spinlock) to count in a known one;
 *	  only sampled statements come here.
 *
 *	  Persistence: sdp_predicates_save() and sdp_predicates_load() write and
 *	  read the table's part of the statistics file (stats_file.c), keys and
 *	  counters as they are; postmaster only, no lock.
 *
 *	  Reading turns an entry into words once the lock is released: the
 *	  partition's columns become its partitioned root's, the operators get
 *	  their names, and a statement with the same tests and $n parameters is
 *	  written for what-if planning.  Entries of partitions of one table
 *	  with the same tests become one row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_operator.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "predicates.h"
#include "profiler_store.h"
#include "sdp_config.h"
#include "stats_file.h"

typedef struct PredicateShared
{
	LWLock	   *lock;
} PredicateShared;

static PredicateShared *predicates = NULL;
static HTAB *predicate_hash = NULL;

PG_FUNCTION_INFO_V1(sdp_observed_predicates_sql);

/* Shared memory the predicate table needs (smart_dairy_perf.max_predicates). */
Size
sdp_predicates_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(PredicateShared)),
					hash_estimate_size(sdp_max_predicates, sizeof(SdpPredicate)));
}

/* Attach to (or create) the predicate table.  Caller holds AddinShmemInitLock. */
void
sdp_predicates_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	predicates = ShmemInitStruct("smart_dairy_perf predicates",
								 sizeof(PredicateShared), &found);
	if (!found)
		predicates->lock = &(GetNamedLWLockTranche("smart_dairy_perf"))[3].lock;
	info.keysize = sizeof(SdpPredicateKey);
	info.entrysize = sizeof(SdpPredicate);
	predicate_hash = ShmemInitHash("smart_dairy_perf predicate table",
								   sdp_max_predicates, sdp_max_predicates,
								   &info, HASH_ELEM | HASH_BLOBS);
}

/* Make room for one entry: drop the one with the least estimated time. */
static void
evict_one(void)
{
	HASH_SEQ_STATUS scan;
	SdpPredicate *p;
	SdpPredicate *victim = NULL;

	hash_seq_init(&scan, predicate_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
		if (victim == NULL || p->counters.est_total_ms < victim->counters.est_total_ms)
			victim = p;
	if (victim != NULL)
		hash_search(predicate_hash, &victim->key, HASH_REMOVE, NULL);
}

static void
count_in(SdpPredicate *p, double rows_kept, double rows_removed, double ms,
		 int64 limit, uint64 queryid, double sample_rate)
{
	double		scale = sample_rate > 0 ? 1.0 / sample_rate : 1.0;

	SpinLockAcquire(&p->mutex);
	p->counters.samples++;
	p->counters.est_executions += scale;
	p->counters.rows_kept += rows_kept;
	p->counters.rows_removed += rows_removed;
	p->counters.est_total_ms += ms * scale;
	p->counters.limit = Max(p->counters.limit, limit);
	p->counters.queryid = queryid;
	p->counters.last_seen = GetCurrentTimestamp();
	SpinLockRelease(&p->mutex);
}

/*
 * Count one sampled plan node with these tests (hot path of sampled
 * statements).  Caller holds no lock; takes the predicate lock shared (and
 * exclusively only for a new key) and the entry's spinlock.
 */
void
sdp_predicate_record(const SdpPredicateKey *key, double rows_kept,
					 double rows_removed, double ms, int64 limit,
					 uint64 queryid, double sample_rate)
{
	SdpPredicate *p;
	bool		found;

	if (predicates == NULL)
		return;
	LWLockAcquire(predicates->lock, LW_SHARED);
	p = hash_search(predicate_hash, key, HASH_FIND, NULL);
	if (p == NULL)
	{
		LWLockRelease(predicates->lock);
		LWLockAcquire(predicates->lock, LW_EXCLUSIVE);
		p = hash_search(predicate_hash, key, HASH_FIND, NULL);
		if (p == NULL)
		{
			if (hash_get_num_entries(predicate_hash) >= sdp_max_predicates)
				evict_one();
			p = hash_search(predicate_hash, key, HASH_ENTER_NULL, &found);
			if (p != NULL && !found)
			{
				SpinLockInit(&p->mutex);
				memset(&p->counters, 0, sizeof(p->counters));
			}
		}
	}
	if (p != NULL)
		count_in(p, rows_kept, rows_removed, ms, limit, queryid, sample_rate);
	LWLockRelease(predicates->lock);
}

/* Forget every observed predicate.  Takes the predicate lock exclusively; caller holds none. */
void
sdp_predicates_reset(void)
{
	HASH_SEQ_STATUS scan;
	SdpPredicate *p;

	if (predicates == NULL)
		return;
	LWLockAcquire(predicates->lock, LW_EXCLUSIVE);
	hash_seq_init(&scan, predicate_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
		hash_search(predicate_hash, &p->key, HASH_REMOVE, NULL);
	LWLockRelease(predicates->lock);
}

/* OPERATOR(schema.name), which parses whatever the search path */
static char *
operator_sql(Oid opno)
{
	HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	char	   *result;

	if (!HeapTupleIsValid(tuple))
		return NULL;
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(((Form_pg_operator) GETSTRUCT(tuple))->oprnamespace)),
					  NameStr(((Form_pg_operator) GETSTRUCT(tuple))->oprname));
	ReleaseSysCache(tuple);
	return result;
}

/*
 * Words for one entry, on the columns of root (the partitioned table when
 * relid is a partition).  False when a column or operator is gone.
 */
static bool
describe_observed(const SdpPredicate *p, Oid root, SdpObservedPredicate *out)
{
	StringInfoData words;
	StringInfoData sql;
	int			nparams = 0;
	int			ntests = 0;
	int			nsorts = 0;

	initStringInfo(&words);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM %s.%s",
					 quote_identifier(get_namespace_name(get_rel_namespace(root))),
					 quote_identifier(get_rel_name(root)));
	for (int i = 0; i < p->key.ncols; i++)
	{
		const SdpPredicateColumn *col = &p->key.cols[i];
		char	   *name = get_attname(p->key.relid, col->attnum, true);
		const char *column;
		char	   *op = NULL;

		if (name == NULL || get_attnum(root, name) == InvalidAttrNumber)
			return false;
		column = quote_identifier(name);
		if (!(col->flags & SDP_COL_IS_NULL) && (op = operator_sql(col->opno)) == NULL)
			return false;

		if (col->flags & SDP_COL_SORT)
		{
			bool		reverse = false;

			(void) get_equality_op_for_ordering_op(col->opno, &reverse);
			appendStringInfo(&sql, "%s %s%s", nsorts == 0 ? " ORDER BY" : ",",
							 column, reverse ? " DESC" : "");
			appendStringInfo(&words, "%s %s%s", nsorts == 0 ? " ORDER BY" : ",",
							 column, reverse ? " DESC" : "");
			nsorts++;
			continue;
		}
		appendStringInfoString(&sql, ntests == 0 ? " WHERE " : " AND ");
		if (ntests > 0)
			appendStringInfoString(&words, " AND ");
		ntests++;
		if (col->flags & SDP_COL_IS_NULL)
		{
			appendStringInfo(&sql, "%s IS NULL", column);
			appendStringInfo(&words, "%s IS NULL", column);
		}
		else if (col->flags & SDP_COL_ANY)
		{
			appendStringInfo(&sql, "%s %s ANY ($%d)", column, op, ++nparams);
			appendStringInfo(&words, "%s %s ANY (?)", column, get_opname(col->opno));
		}
		else if (col->flags & SDP_COL_CONST_LEFT)
		{
			appendStringInfo(&sql, "$%d %s %s", ++nparams, op, column);
			appendStringInfo(&words, "? %s %s", get_opname(col->opno), column);
		}
		else
		{
			appendStringInfo(&sql, "%s %s $%d", column, op, ++nparams);
			appendStringInfo(&words, "%s %s ?", column, get_opname(col->opno));
		}
	}
	if (nsorts > 0)
	{
		appendStringInfo(&sql, " LIMIT %lld",
						 (long long) (p->counters.limit > 0 ? p->counters.limit : 10));
		appendStringInfo(&words, " LIMIT %lld",
						 (long long) (p->counters.limit > 0 ? p->counters.limit : 10));
	}
	out->relid = root;
	out->kind = p->key.kind;
	out->predicate = words.data[0] == ' ' ? words.data + 1 : words.data;
	out->what_if_query = sql.data;
	out->counters = p->counters;
	return true;
}

static void
merge_counters(SdpPredicateCounters *into, const SdpPredicateCounters *c)
{
	into->samples += c->samples;
	into->est_executions += c->est_executions;
	into->rows_kept += c->rows_kept;
	into->rows_removed += c->rows_removed;
	into->est_total_ms += c->est_total_ms;
	into->limit = Max(into->limit, c->limit);
	if (c->last_seen > into->last_seen)
	{
		into->last_seen = c->last_seen;
		into->queryid = c->queryid;
	}
}

/*
 * This database's observed predicates on user tables that still exist,
 * as SdpObservedPredicate *, partitions folded into their root table.
 * Copied under the predicate lock held shared, then released before any
 * catalog lookup; the list is palloc'd in the current memory context.
 */
List *
sdp_observed_predicates(void)
{
	HASH_SEQ_STATUS scan;
	SdpPredicate *p;
	SdpPredicate *copies;
	int			n = 0;
	List	   *result = NIL;
	Oid			own_schema = get_namespace_oid("sdp", true);

	if (predicates == NULL)
		return NIL;
	LWLockAcquire(predicates->lock, LW_SHARED);
	copies = palloc(sizeof(SdpPredicate) * Max(hash_get_num_entries(predicate_hash), 1));
	hash_seq_init(&scan, predicate_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
	{
		if (p->key.dbid != MyDatabaseId)
			continue;
		copies[n].key = p->key;
		SpinLockAcquire(&p->mutex);
		copies[n].counters = p->counters;
		SpinLockRelease(&p->mutex);
		n++;
	}
	LWLockRelease(predicates->lock);

	for (int i = 0; i < n; i++)
	{
		Oid			relid = copies[i].key.relid;
		Oid			root = relid;
		SdpObservedPredicate *row;
		ListCell   *lc;
		bool		merged = false;

		if (get_rel_relkind(relid) == '\0' || IsCatalogRelationOid(relid) ||
			get_rel_namespace(relid) == own_schema)
			continue;
		if (get_rel_relispartition(relid))
			root = llast_oid(get_partition_ancestors(relid));
		row = palloc0(sizeof(SdpObservedPredicate));
		if (!describe_observed(&copies[i], root, row))
			continue;
		foreach(lc, result)
		{
			SdpObservedPredicate *other = lfirst(lc);

			if (other->relid == row->relid && other->kind == row->kind &&
				strcmp(other->what_if_query, row->what_if_query) == 0)
			{
				merge_counters(&other->counters, &row->counters);
				merged = true;
				break;
			}
		}
		if (!merged)
			result = lappend(result, row);
	}
	pfree(copies);
	return result;
}

#define OBSERVED_COLS 11

/* sdp._observed_predicates(): the rows behind sdp.observed_predicates */
Datum
sdp_observed_predicates_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, sdp_observed_predicates())
	{
		SdpObservedPredicate *o = lfirst(lc);
		Datum		values[OBSERVED_COLS];
		bool		nulls[OBSERVED_COLS] = {0};
		int			i = 0;

		values[i++] = ObjectIdGetDatum(o->relid);
		values[i++] = CStringGetTextDatum(o->kind == SDP_PRED_JOIN ? "join" :
										  o->kind == SDP_PRED_ORDER ? "order_limit" : "filter");
		values[i++] = CStringGetTextDatum(o->predicate);
		values[i++] = Int64GetDatum(o->counters.samples);
		values[i++] = Float8GetDatum(o->counters.est_executions);
		values[i++] = Float8GetDatum(o->counters.rows_kept);
		values[i++] = Float8GetDatum(o->counters.rows_removed);
		values[i++] = Float8GetDatum(o->counters.est_total_ms);
		values[i++] = Int64GetDatum((int64) o->counters.queryid);
		values[i++] = TimestampTzGetDatum(o->counters.last_seen);
		values[i++] = CStringGetTextDatum(o->what_if_query);
		Assert(i == OBSERVED_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ----------------------------------------------------------------------
 * The table's part of the statistics file (stats_file.c)
 * ----------------------------------------------------------------------
 */

typedef struct PersistPredicate
{
	SdpPredicateKey key;
	SdpPredicateCounters counters;
} PersistPredicate;

/*
 * Write the count, then every entry.  False when a write failed (errno
 * set).  Postmaster only, at exit: no lock.
 */
bool
sdp_predicates_save(SdpStatsWriter *w)
{
	HASH_SEQ_STATUS scan;
	SdpPredicate *p;
	int64		count = hash_get_num_entries(predicate_hash);

	if (!sdp_stats_file_write(w, &count, sizeof(count)))
		return false;
	hash_seq_init(&scan, predicate_hash);
	while ((p = hash_seq_search(&scan)) != NULL)
	{
		PersistPredicate pp;

		memset(&pp, 0, sizeof(pp));
		pp.key = p->key;
		pp.counters = p->counters;
		if (!sdp_stats_file_write(w, &pp, sizeof(pp)))
		{
			hash_seq_term(&scan);
			return false;
		}
	}
	return true;
}

/* What is wrong with a saved entry, or NULL. */
static const char *
check_predicate(const PersistPredicate *pp)
{
	const SdpPredicateKey *k = &pp->key;
	const SdpPredicateCounters *c = &pp->counters;
	SdpPredicateKey rebuilt;

	if ((k->kind != SDP_PRED_FILTER && k->kind != SDP_PRED_JOIN &&
		 k->kind != SDP_PRED_ORDER) ||
		k->ncols < 1 || k->ncols > SDP_PRED_MAX_COLS || k->relid == InvalidOid)
		return "malformed key";
	/* the key as the sampler builds it: zeroed, then filled */
	memset(&rebuilt, 0, sizeof(rebuilt));
	rebuilt.dbid = k->dbid;
	rebuilt.relid = k->relid;
	rebuilt.kind = k->kind;
	rebuilt.ncols = k->ncols;
	for (int i = 0; i < k->ncols; i++)
	{
		if (k->cols[i].attnum <= 0 ||
			(k->cols[i].flags & ~(SDP_COL_CONST_LEFT | SDP_COL_ANY |
								  SDP_COL_IS_NULL | SDP_COL_SORT)) != 0)
			return "malformed key";
		rebuilt.cols[i] = k->cols[i];
	}
	if (memcmp(&rebuilt, k, sizeof(rebuilt)) != 0)
		return "malformed key";
	if (c->samples < 0 || c->limit < 0 ||
		!sdp_stats_valid_time(c->est_executions) ||
		!sdp_stats_valid_time(c->rows_kept) ||
		!sdp_stats_valid_time(c->rows_removed) ||
		!sdp_stats_valid_time(c->est_total_ms))
		return "negative or not a number";
	if (!IS_VALID_TIMESTAMP(c->last_seen))
		return "timestamp out of range";
	return NULL;
}

/*
 * Read the table's part at r.  With apply false only check every value;
 * with apply true (on contents that passed) also fill the table, up to
 * max_predicates.  Returns what is wrong, or NULL; *nloaded counts the
 * entries loaded.  Postmaster only, before anyone attaches: no lock.
 */
const char *
sdp_predicates_load(SdpStatsReader *r, bool apply, int64 *nloaded)
{
	int64		count;

	*nloaded = 0;
	if (!sdp_stats_file_read(r, &count, sizeof(count)))
		return "the file is shorter than its header says";
	if (count < 0)
		return "impossible value in the predicates' header";
	for (int64 i = 0; i < count; i++)
	{
		PersistPredicate pp;
		const char *what;
		SdpPredicate *p;
		bool		found;

		if (!sdp_stats_file_read(r, &pp, sizeof(pp)))
			return "the file is shorter than its header says";
		if ((what = check_predicate(&pp)) != NULL)
			return psprintf("impossible value in observed predicate %lld: %s",
							(long long) i + 1, what);
		if (!apply || hash_get_num_entries(predicate_hash) >= sdp_max_predicates)
			continue;
		p = hash_search(predicate_hash, &pp.key, HASH_ENTER_NULL, &found);
		if (p == NULL || found)
			continue;
		SpinLockInit(&p->mutex);
		p->counters = pp.counters;
		(*nloaded)++;
	}
	return NULL;
}
