/*-------------------------------------------------------------------------
 *
 * slow_queries.c
 *	  The ring of slow executions behind sdp.slow_queries: each execution
 *	  slower than smart_dairy_perf.slow_query_ms is kept with its time,
 *	  duration, user, database, application, query id, normalized text and,
 *	  depending on smart_dairy_perf.plan_capture, its plan.
 *
 *	  Memory: max_slow_queries fixed-size records in shared memory, each with
 *	  room for max_query_text bytes of text and max_plan_text bytes of plan.
 *	  The oldest record is overwritten when the ring is full.
 *
 *	  Persistence: sdp_slow_save() and sdp_slow_load() write and read the
 *	  ring's part of the statistics file (stats_file.c), oldest record
 *	  first, each with its texts; postmaster only, no lock.
 *
 *	  Locking: ring->lock (LWLock) exclusively to write a record, shared to
 *	  read them.  Only slow executions write, so the hot path never takes it.
 *
 *	  Plans: with plan_capture = slow the plan is printed from the executed
 *	  plan tree at ExecutorEnd (estimates only, no extra cost before the
 *	  statement is known to be slow).  With slow_analyze, profiler_hooks.c
 *	  asks for per-node row counts (no timing) for a sampled fraction of
 *	  statements, and the plan shows actual rows.  Such an execution also
 *	  keeps its plan in structured form, EXPLAIN's JSON (VERBOSE, so names
 *	  carry their schema), up to smart_dairy_perf.max_plan_json bytes: per
 *	  node its type, relation, estimated and actual rows, loops, rows
 *	  removed, sort and hash spills, buffers, workers planned and launched
 *	  — what sdp.slow_query_advice reads (sdp._plan_findings).  A JSON plan
 *	  that does not fit is not kept cut (it would not parse): the record
 *	  says it was too large.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/explain.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "sdp_config.h"
#include "slow_queries.h"
#include "stats_file.h"

typedef struct SlowRecord
{
	uint64		seq;			/* 0: never written or cleared */
	TimestampTz executed_at;
	double		duration_ms;
	int64		rows;
	Oid			userid;
	Oid			dbid;
	uint64		queryid;
	bool		toplevel;
	bool		plan_analyzed;
	char		appname[NAMEDATALEN];
	int			encoding;		/* of the texts */
	int			query_len;
	int			plan_len;		/* -1: no plan */
	int			json_len;		/* JSON_NONE, JSON_TOO_LARGE or its length */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* query, NUL, plan, NUL, json, NUL */
} SlowRecord;

#define JSON_NONE		(-1)		/* not sampled with actual rows */
#define JSON_TOO_LARGE	(-2)		/* longer than max_plan_json */
#define JSON_INVALID	(-3)		/* EXPLAIN printed no valid JSON (Infinity costs) */

typedef struct SlowRing
{
	LWLock	   *lock;
	uint64		next_seq;		/* seq of the next record written; from 1 */
	char		records[FLEXIBLE_ARRAY_MEMBER];
} SlowRing;

static SlowRing *ring = NULL;

static Size
record_size(void)
{
	return MAXALIGN(offsetof(SlowRecord, data) +
					sdp_max_query_text + 1 + sdp_max_plan_text + 1 +
					sdp_max_plan_json + 1);
}

static inline SlowRecord *
record_at(int slot)
{
	return (SlowRecord *) (ring->records + (Size) slot * record_size());
}

/* Shared memory the ring needs (from smart_dairy_perf.max_slow_queries); shmem_request_hook. */
Size
sdp_slow_shmem_size(void)
{
	return add_size(MAXALIGN(offsetof(SlowRing, records)),
					mul_size(sdp_max_slow_queries, record_size()));
}

/* Attach to (or create) the ring.  Caller holds AddinShmemInitLock. */
void
sdp_slow_shmem_startup(void)
{
	bool		found;

	ring = ShmemInitStruct("smart_dairy_perf slow queries",
						   sdp_slow_shmem_size(), &found);
	if (!found)
	{
		ring->lock = &(GetNamedLWLockTranche("smart_dairy_perf"))[1].lock;
		ring->next_seq = 1;
		for (int i = 0; i < sdp_max_slow_queries; i++)
			record_at(i)->seq = 0;
	}
}

/*
 * EXPLAIN text of the statement that is ending, or NULL; with actual rows
 * also its JSON in *json (NULL when not).  Errors are caught and dropped: a
 * plan we cannot print must not fail the user's statement.  A cancel or
 * shutdown request is re-thrown, never swallowed.
 */
static char *
explain_plan(QueryDesc *queryDesc, double elapsed_ms, bool *analyzed, char **json)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	MemoryContext plan_cxt;
	char	   *plan = NULL;

	*json = NULL;
	*analyzed = (queryDesc->instrument_options & INSTRUMENT_ROWS) != 0 &&
		queryDesc->planstate != NULL && queryDesc->planstate->instrument != NULL;

	plan_cxt = AllocSetContextCreate(caller_cxt, "smart_dairy_perf plan",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(plan_cxt);
	PG_TRY();
	{
		ExplainState *es = NewExplainState();

		es->format = EXPLAIN_FORMAT_TEXT;
		es->costs = true;
		es->analyze = *analyzed;
		es->timing = *analyzed &&
			(queryDesc->instrument_options & INSTRUMENT_TIMER) != 0;
		ExplainBeginOutput(es);
		ExplainPrintPlan(es, queryDesc);
		ExplainEndOutput(es);
		/* drop the trailing newline */
		if (es->str->len > 0 && es->str->data[es->str->len - 1] == '\n')
			es->str->data[--es->str->len] = '\0';
		MemoryContextSwitchTo(caller_cxt);
		plan = pstrdup(es->str->data);
		MemoryContextSwitchTo(plan_cxt);

		/* the structured form, for the findings: EXPLAIN's own JSON */
		if (*analyzed && sdp_max_plan_json > 0)
		{
			ExplainState *js = NewExplainState();

			js->format = EXPLAIN_FORMAT_JSON;
			js->costs = true;
			js->verbose = true;
			js->analyze = true;
			js->timing = es->timing;
			js->buffers = (queryDesc->instrument_options & INSTRUMENT_BUFFERS) != 0;
			ExplainBeginOutput(js);
			ExplainOpenGroup("Query", NULL, true, js);
			ExplainPrintPlan(js, queryDesc);
			ExplainPropertyFloat("Execution Time", "ms", elapsed_ms, 3, js);
			ExplainCloseGroup("Query", NULL, true, js);
			ExplainEndOutput(js);
			MemoryContextSwitchTo(caller_cxt);
			*json = pstrdup(js->str->data);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		plan = NULL;
		*json = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(plan_cxt);
	return plan;
}

/*
 * Is text valid JSON?  EXPLAIN prints an overflowed cost as a bare Infinity
 * (SET seq_page_cost = 1e308 is any user's to make), which no JSON reader
 * accepts: such a plan must not be kept as readable.  Never raises.
 */
static bool
valid_json(char *text, int len)
{
	JsonLexContext *lex = makeJsonLexContextCstringLen(text, len,
													   GetDatabaseEncoding(), true);

	return pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;
}

/*
 * Record a slow statement (with its plan, if asked) in the ring.  Called
 * from ExecutorEnd with no lock held; takes the ring's lock exclusively.
 * No SPI.
 */
void
sdp_slow_capture(QueryDesc *queryDesc, const SdpEntryKey *key,
				 double elapsed_ms, const char *query, int query_len)
{
	char	   *plan = NULL;
	char	   *json = NULL;
	bool		analyzed = false;
	int			plan_len = -1;
	int			json_len = JSON_NONE;
	SlowRecord *rec;

	if (ring == NULL || sdp_max_slow_queries <= 0)
		return;

	if (sdp_plan_capture != SDP_PLAN_OFF)
		plan = explain_plan(queryDesc, elapsed_ms, &analyzed, &json);
	if (json != NULL)
	{
		json_len = strlen(json);
		if (json_len > sdp_max_plan_json)
			json_len = JSON_TOO_LARGE;
		else if (!valid_json(json, json_len))
			json_len = JSON_INVALID;
	}
	if (plan != NULL)
	{
		plan_len = strlen(plan);
		if (plan_len > sdp_max_plan_text)
			plan_len = pg_mbcliplen(plan, plan_len, sdp_max_plan_text);
	}
	query_len = Min(query_len, sdp_max_query_text);

	LWLockAcquire(ring->lock, LW_EXCLUSIVE);
	rec = record_at((int) ((ring->next_seq - 1) % sdp_max_slow_queries));
	rec->seq = ring->next_seq++;
	rec->executed_at = GetCurrentStatementStartTimestamp();
	rec->duration_ms = elapsed_ms;
	rec->rows = (int64) queryDesc->estate->es_processed;
	rec->userid = key->userid;
	rec->dbid = key->dbid;
	rec->queryid = key->queryid;
	rec->toplevel = key->toplevel;
	rec->plan_analyzed = analyzed;
	strlcpy(rec->appname, sdp_store_current_appname(), NAMEDATALEN);
	rec->encoding = GetDatabaseEncoding();
	rec->query_len = query_len;
	memcpy(rec->data, query, query_len);
	rec->data[query_len] = '\0';
	rec->plan_len = plan_len;
	if (plan_len >= 0)
	{
		memcpy(rec->data + query_len + 1, plan, plan_len);
		rec->data[query_len + 1 + plan_len] = '\0';
	}
	rec->json_len = json_len;
	if (json_len >= 0)
	{
		char	   *dst = rec->data + query_len + 1 + Max(plan_len, 0) + 1;

		memcpy(dst, json, json_len);
		dst[json_len] = '\0';
	}
	LWLockRelease(ring->lock);

	if (plan != NULL)
		pfree(plan);
	if (json != NULL)
		pfree(json);
}

/* Clear the records of one query id, or all of them (queryid 0).  Takes the ring's lock exclusively. */
void
sdp_slow_reset(uint64 queryid)
{
	if (ring == NULL)
		return;
	LWLockAcquire(ring->lock, LW_EXCLUSIVE);
	for (int i = 0; i < sdp_max_slow_queries; i++)
	{
		SlowRecord *rec = record_at(i);

		if (queryid == 0 || rec->queryid == queryid)
			rec->seq = 0;
	}
	LWLockRelease(ring->lock);
}

/* Slow statements recorded since start.  Takes the ring's lock shared. */
uint64
sdp_slow_captured_total(void)
{
	uint64		total;

	if (ring == NULL)
		return 0;
	LWLockAcquire(ring->lock, LW_SHARED);
	total = ring->next_seq - 1;
	LWLockRelease(ring->lock);
	return total;
}

#define PLAN_COLS 9

/*
 * Rows of sdp._slow_query_plans(): the structured plans of the captured
 * executions of this database, newest first, with the same visibility as
 * sdp.slow_queries.  json_state: 'captured', 'too large' (over
 * max_plan_json) or 'not sampled' (no actual rows).  Takes ring->lock
 * shared; the caller has set up a materialized SRF.
 */
void
sdp_slow_fill_plans(ReturnSetInfo *rsinfo)
{
	Oid			me = GetUserId();
	bool		see_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
	int			n = sdp_max_slow_queries;
	uint64		newest;

	LWLockAcquire(ring->lock, LW_SHARED);
	newest = ring->next_seq - 1;
	for (int i = 0; i < n && (uint64) i < newest; i++)
	{
		SlowRecord *rec = record_at((int) ((newest - 1 - i) % n));
		Datum		values[PLAN_COLS];
		bool		nulls[PLAN_COLS];
		int			c = 0;

		if (rec->seq == 0 || rec->dbid != MyDatabaseId ||
			!(see_all || rec->userid == me))
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[c++] = Int64GetDatumFast((int64) rec->seq);
		values[c++] = TimestampTzGetDatum(rec->executed_at);
		values[c++] = Float8GetDatum(rec->duration_ms);
		values[c++] = ObjectIdGetDatum(rec->userid);
		values[c++] = Int64GetDatumFast((int64) rec->queryid);
		values[c++] = BoolGetDatum(rec->toplevel);
		values[c++] = CStringGetTextDatum(rec->data);
		values[c++] = CStringGetTextDatum(rec->json_len >= 0 ? "captured" :
										  rec->json_len == JSON_TOO_LARGE ? "too large" :
										  rec->json_len == JSON_INVALID ? "not valid JSON" :
										  "not sampled");
		if (rec->json_len >= 0)
			values[c++] = CStringGetTextDatum(rec->data + rec->query_len + 1 +
											  Max(rec->plan_len, 0) + 1);
		else
			nulls[c++] = true;
		Assert(c == PLAN_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(ring->lock);
}

#define SLOW_COLS 12

/*
 * Rows of sdp.slow_queries, newest first.  Texts and plans of other users'
 * statements need pg_read_all_stats (plans show constants).  Takes the
 * ring's lock shared while it fills rsinfo's tuplestore.
 */
void
sdp_slow_fill_tuplestore(ReturnSetInfo *rsinfo, bool showtext)
{
	Oid			me = GetUserId();
	bool		see_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
	int			n = sdp_max_slow_queries;
	uint64		newest;

	LWLockAcquire(ring->lock, LW_SHARED);
	newest = ring->next_seq - 1;
	for (int i = 0; i < n && (uint64) i < newest; i++)
	{
		SlowRecord *rec = record_at((int) ((newest - 1 - i) % n));
		Datum		values[SLOW_COLS];
		bool		nulls[SLOW_COLS];
		bool		visible = see_all || rec->userid == me;
		int			c = 0;

		if (rec->seq == 0)
			continue;
		memset(nulls, 0, sizeof(nulls));

		values[c++] = TimestampTzGetDatum(rec->executed_at);
		values[c++] = Float8GetDatum(rec->duration_ms);
		values[c++] = ObjectIdGetDatum(rec->userid);
		values[c++] = ObjectIdGetDatum(rec->dbid);
		values[c++] = CStringGetTextDatum(rec->appname);
		values[c++] = BoolGetDatum(rec->toplevel);
		if (visible)
			values[c++] = Int64GetDatumFast((int64) rec->queryid);
		else
			nulls[c++] = true;
		values[c++] = Int64GetDatumFast(rec->rows);
		if (!showtext)
			nulls[c++] = true;
		else if (visible)
			values[c++] = CStringGetTextDatum(rec->data);
		else
			values[c++] = CStringGetTextDatum("<insufficient privilege>");
		if (!showtext || rec->plan_len < 0)
			nulls[c++] = true;
		else if (visible)
			values[c++] = CStringGetTextDatum(rec->data + rec->query_len + 1);
		else
			values[c++] = CStringGetTextDatum("<insufficient privilege>");
		values[c++] = BoolGetDatum(rec->plan_analyzed);
		values[c++] = Int64GetDatumFast((int64) rec->seq);
		Assert(c == SLOW_COLS);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(ring->lock);
}

/* ----------------------------------------------------------------------
 * The ring's part of the statistics file (stats_file.c)
 * ----------------------------------------------------------------------
 */

/* The part's head: how many records follow, and the ring's next seq. */
typedef struct PersistSlowHead
{
	int64		nrecords;
	uint64		next_seq;
} PersistSlowHead;

/* One record, without its texts (query, plan, JSON follow, no NULs). */
typedef struct PersistSlow
{
	uint64		seq;
	TimestampTz executed_at;
	double		duration_ms;
	int64		rows;
	Oid			userid;
	Oid			dbid;
	uint64		queryid;
	bool		toplevel;
	bool		plan_analyzed;
	char		appname[NAMEDATALEN];
	int32		encoding;
	int32		query_len;
	int32		plan_len;
	int32		json_len;
} PersistSlow;

/* the longest plan and JSON plan the settings allow */
#define MAX_SAVED_PLAN	(1024 * 1024)

/*
 * Write the records, oldest first, each followed by its texts.  False when
 * a write failed (errno set).  Postmaster only, at exit: no lock.
 */
bool
sdp_slow_save(SdpStatsWriter *w)
{
	PersistSlowHead head;
	int			n = sdp_max_slow_queries;
	uint64		first;

	memset(&head, 0, sizeof(head));
	head.next_seq = ring->next_seq;
	for (int i = 0; i < n; i++)
		if (record_at(i)->seq != 0)
			head.nrecords++;
	if (!sdp_stats_file_write(w, &head, sizeof(head)))
		return false;

	/* the ring holds at most the n seqs before next_seq, one per slot */
	first = ring->next_seq > (uint64) n ? ring->next_seq - n : 1;
	for (uint64 seq = first; seq < ring->next_seq; seq++)
	{
		SlowRecord *rec = record_at((int) ((seq - 1) % n));
		const char *plan = rec->data + rec->query_len + 1;
		const char *json = plan + Max(rec->plan_len, 0) + 1;
		PersistSlow ps;

		if (rec->seq != seq)
			continue;
		memset(&ps, 0, sizeof(ps));
		ps.seq = rec->seq;
		ps.executed_at = rec->executed_at;
		ps.duration_ms = rec->duration_ms;
		ps.rows = rec->rows;
		ps.userid = rec->userid;
		ps.dbid = rec->dbid;
		ps.queryid = rec->queryid;
		ps.toplevel = rec->toplevel;
		ps.plan_analyzed = rec->plan_analyzed;
		strlcpy(ps.appname, rec->appname, NAMEDATALEN);
		ps.encoding = rec->encoding;
		ps.query_len = rec->query_len;
		ps.plan_len = rec->plan_len;
		ps.json_len = rec->json_len;
		if (!sdp_stats_file_write(w, &ps, sizeof(ps)) ||
			!sdp_stats_file_write(w, rec->data, ps.query_len) ||
			(ps.plan_len > 0 && !sdp_stats_file_write(w, plan, ps.plan_len)) ||
			(ps.json_len > 0 && !sdp_stats_file_write(w, json, ps.json_len)))
			return false;
	}
	return true;
}

/* What is wrong with a saved record (texts apart), or NULL. */
static const char *
check_record(const PersistSlow *ps, uint64 prev_seq, uint64 next_seq)
{
	size_t		applen = strnlen(ps->appname, NAMEDATALEN);

	if (ps->seq <= prev_seq || ps->seq >= next_seq)
		return "sequence numbers out of order";
	if (!sdp_stats_valid_bool(&ps->toplevel) ||
		!sdp_stats_valid_bool(&ps->plan_analyzed))
		return "malformed flag";
	if (!PG_VALID_BE_ENCODING(ps->encoding))
		return "invalid encoding";
	if (applen >= NAMEDATALEN ||
		!pg_verify_mbstr(ps->encoding, ps->appname, (int) applen, true))
		return "invalid application name";
	if (!sdp_stats_valid_time(ps->duration_ms) || ps->rows < 0)
		return "negative or not a number";
	if (!IS_VALID_TIMESTAMP(ps->executed_at))
		return "timestamp out of range";
	if (!sdp_stats_valid_text_len(ps->query_len) ||
		ps->plan_len < -1 || ps->plan_len > MAX_SAVED_PLAN ||
		ps->json_len < JSON_INVALID || ps->json_len > MAX_SAVED_PLAN)
		return "text too long";
	return NULL;
}

/* The next len bytes at r as a text valid in encoding, or NULL. */
static const char *
read_valid_text(SdpStatsReader *r, int32 len, int encoding)
{
	const char *text = sdp_stats_file_read_text(r, len);

	/* pg_verify_mbstr also rejects NUL bytes */
	if (text == NULL || !pg_verify_mbstr(encoding, text, len, true))
		return NULL;
	return text;
}

/*
 * Read the ring's part at r.  With apply false only check every value
 * (the JSON plans must still parse); with apply true (on contents that
 * passed) also fill the ring, keeping the newest records that fit
 * max_slow_queries, texts cut to the current limits (a JSON plan that no
 * longer fits is marked too large).  Returns what is wrong, or NULL;
 * *nloaded counts the records loaded.  Postmaster only, before anyone
 * attaches: no lock.
 */
const char *
sdp_slow_load(SdpStatsReader *r, bool apply, int64 *nloaded)
{
	PersistSlowHead head;
	uint64		prev_seq = 0;
	int			n = sdp_max_slow_queries;

	*nloaded = 0;
	if (!sdp_stats_file_read(r, &head, sizeof(head)))
		return "the file is shorter than its header says";
	if (head.nrecords < 0 || head.next_seq < 1 ||
		(uint64) head.nrecords >= head.next_seq)
		return "impossible value in the slow queries' header";

	for (int64 i = 0; i < head.nrecords; i++)
	{
		PersistSlow ps;
		const char *what;
		const char *query;
		const char *plan = NULL;
		const char *json = NULL;
		SlowRecord *rec;
		int			query_len;
		int			plan_len;
		int			json_len;

		if (!sdp_stats_file_read(r, &ps, sizeof(ps)))
			return "the file is shorter than its header says";
		if ((what = check_record(&ps, prev_seq, head.next_seq)) != NULL)
			return psprintf("impossible value in slow query %lld: %s",
							(long long) i + 1, what);
		prev_seq = ps.seq;
		if ((query = read_valid_text(r, ps.query_len, ps.encoding)) == NULL ||
			(ps.plan_len > 0 &&
			 (plan = read_valid_text(r, ps.plan_len, ps.encoding)) == NULL) ||
			(ps.json_len > 0 &&
			 (json = read_valid_text(r, ps.json_len, ps.encoding)) == NULL))
			return psprintf("impossible value in slow query %lld: %s",
							(long long) i + 1, "text not valid in its encoding");
		if (json != NULL && !valid_json(unconstify(char *, json), ps.json_len))
			return psprintf("impossible value in slow query %lld: %s",
							(long long) i + 1, "plan not valid JSON");
		if (!apply || n <= 0 || ps.seq + n < head.next_seq)
			continue;

		/* the settings may have changed since: cut what no longer fits */
		query_len = sdp_stats_clip_text(ps.encoding, query, ps.query_len);
		plan_len = ps.plan_len > sdp_max_plan_text ?
			pg_encoding_mbcliplen(ps.encoding, plan, ps.plan_len,
								  sdp_max_plan_text) : ps.plan_len;
		json_len = ps.json_len > sdp_max_plan_json ? JSON_TOO_LARGE : ps.json_len;

		rec = record_at((int) ((ps.seq - 1) % n));
		rec->seq = ps.seq;
		rec->executed_at = ps.executed_at;
		rec->duration_ms = ps.duration_ms;
		rec->rows = ps.rows;
		rec->userid = ps.userid;
		rec->dbid = ps.dbid;
		rec->queryid = ps.queryid;
		rec->toplevel = ps.toplevel;
		rec->plan_analyzed = ps.plan_analyzed;
		strlcpy(rec->appname, ps.appname, NAMEDATALEN);
		rec->encoding = ps.encoding;
		rec->query_len = query_len;
		memcpy(rec->data, query, query_len);
		rec->data[query_len] = '\0';
		rec->plan_len = plan_len;
		if (plan_len >= 0)
		{
			if (plan_len > 0)
				memcpy(rec->data + query_len + 1, plan, plan_len);
			rec->data[query_len + 1 + plan_len] = '\0';
		}
		rec->json_len = json_len;
		if (json_len >= 0)
		{
			char	   *dst = rec->data + query_len + 1 + Max(plan_len, 0) + 1;

			if (json_len > 0)
				memcpy(dst, json, json_len);
			dst[json_len] = '\0';
		}
		(*nloaded)++;
	}
	if (apply)
		ring->next_seq = head.next_seq;
	return NULL;
}
