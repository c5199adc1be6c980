/*-------------------------------------------------------------------------
 *
 * nplus1.c
 *	  N+1 detection, per backend: watches the statements this session runs
 *	  and finds loops inside one unit of work: the ORM's lazy loading of one
 *	  association per row (A A A ...), of two or more per row (A B A B ...,
 *	  up to five statements per iteration), of a nested association
 *	  (items, then each item's product: I P P I P P ...), the row-by-row
 *	  DML loop, and the same inside PL/pgSQL.  Confirmed loops go to the
 *	  pattern table (nplus1_store.c), one pattern per shape of the loop,
 *	  every shape with the loop's parent and the list of the shapes that
 *	  loop together.
 *
 *	  Units of work.  The unit of a client statement (level 0) is, in this
 *	  order:
 *	  - the value of smart_dairy_perf.request_id, when the application sets
 *	    it (SET LOCAL per request): exact grouping;
 *	  - otherwise a chain of statements: a transaction block that runs two
 *	    or more statements is one link that nothing breaks; statements in
 *	    autocommit and single-statement transactions (an ORM's BEGIN; save;
 *	    COMMIT) are links that follow each other within nplus1_max_gap_ms.
 *	    After a multi-statement transaction a new chain starts: a job-queue
 *	    worker or a hot endpoint whose every request is its own transaction
 *	    never forms a loop.  A loop in a chain of single-statement links
 *	    must follow a parent that returned at least nplus1_min_repeats
 *	    rows, the rows it loops over: without it, a connection serving one
 *	    endpoint's requests back to back (a lookup, or three statements per
 *	    request) after another request is a hot endpoint, not a loop.
 *	  The unit of a nested statement is the execution of the statement that
 *	  encloses it (one call of a function, one DO block, one INSERT whose
 *	  foreign-key checks run below it).
 *
 *	  Loops.  Each level keeps the last statements of its unit (history).
 *	  When the last 2p statements are one sequence of p shapes twice over
 *	  (p = 1 .. SDP_NPLUS1_MAX_PERIOD, the shortest wins), a loop starts:
 *	  its positions are that sequence, its parent the statement just
 *	  before.  The loop is then followed position by position; a statement
 *	  of the loop met at a later position than expected skips the ones in
 *	  between (a lazy load the ORM answered from its cache), tolerated while
 *	  skipped positions stay below half the iterations; a statement that is
 *	  no shape of the loop ends it.  A shape executed several times per
 *	  iteration is nested under the shape before it (order -> items ->
 *	  product: the product lookup's parent is the items query), the others
 *	  share the loop's parent.  Once the loop has run nplus1_min_repeats
 *	  iterations, each shape is confirmed at its next execution (its text,
 *	  its tags and the statement's own checks are at hand then); further
 *	  executions are added to its pattern FLUSH_EVERY at a time, and when
 *	  the loop or its unit ends.  In a chain of autocommit statements the
 *	  shapes wait for the loop's end: it is the parent's loop only if it
 *	  ran no more iterations than the parent returned rows (a hot
 *	  endpoint's run of requests has no reason to stop there).
 *
 *	  Noise.  Not patterns unless nplus1_include_internal is on: statements
 *	  of the extension's own code (own_code.c: its workers, its SQL
 *	  functions), which are not even watched; statements PostgreSQL runs in
 *	  loops of its own, foreign-key checks and the bodies of the system
 *	  catalogs' SQL functions (nplus1_noise.c).  Never patterns: keyset
 *	  pagination (each page is driven by the previous one, not by a parent).
 *
 *	  Cost: per statement, a few comparisons on per-backend state and one
 *	  history slot; a loop search (at most 15 comparisons) only when the
 *	  statement matches one of the last five; shared memory only for the
 *	  statements of a confirmed loop, FLUSH_EVERY executions at a time.
 *	  The statement end time is derived from its start and its measured
 *	  duration, so no extra clock read is needed.  Statements the profiler
 *	  does not time (nested, track = top) are timed one in TIME_ONE_IN, with
 *	  a timer only: a loop's time is estimated from them.  Measured
 *	  (callgrind, test/bench/profiler_overhead.sh): 280 instructions per
 *	  top-level point SELECT, 5.5 % of what pg_stat_statements adds; 331
 *	  per statement nested in PL/pgSQL (README, "Overhead").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"

#include "compat.h"
#include "normalize.h"
#include "nplus1.h"
#include "own_code.h"
#include "profiler_store.h"
#include "sdp_config.h"

/* which kind of unit a level-0 unit id stands for (top bits) */
#define UNIT_REQUEST	(UINT64CONST(1) << 62)
#define UNIT_CHAIN		(UINT64CONST(3) << 62)
#define UNIT_KIND(u)	((u) & (UINT64CONST(3) << 62))

/* statements of the unit remembered per level: a power of two */
#define HISTORY			16
#define HISTORY_MASK	(HISTORY - 1)

typedef struct HistoryEntry
{
	uint64		queryid;
	int64		rows;
	double		exec_ms;		/* 0 when untimed */
	bool		timed;
} HistoryEntry;

/* what a shape's pattern needs, taken while its statement was at hand */
typedef struct PreparedShape
{
	SdpPatternKey key;
	SdpLoopShape loop;
	char		kind;
	char		tags[SDP_NPLUS1_TAGS_LEN];
	char	   *query;			/* in TopMemoryContext */
	int			query_len;
	char	   *parent;			/* in TopMemoryContext, or NULL */
	int			parent_len;
} PreparedShape;

/* one distinct shape of the loop being followed */
typedef struct LoopShapeState
{
	uint64		queryid;
	int			per_iteration;
	uint64		parent_queryid;
	int64		execs;
	int64		timed_execs;	/* of those, timed ... */
	double		timed_ms;		/* ... taking this long */
	double		reported_ms;	/* time already added to the pattern */
	int64		rows;
	bool		decided;		/* confirmed or found not to be a pattern */
	SdpPattern *pattern;		/* when confirmed and kept */
	PreparedShape *prepared;	/* confirmed, waiting for the loop's end */
	int			pending;		/* executions not yet added to the pattern */
} LoopShapeState;

/*
 * Statements the profiler does not time (nested, with track = top) are
 * timed one in TIME_ONE_IN by the detector; a loop's time is then its
 * timed executions' mean times its executions.  Prime, so that every
 * position of a loop of up to five statements gets timed.
 */
#define TIME_ONE_IN		7

/* a confirmed loop's executions go to shared memory this many at a time */
#define FLUSH_EVERY		16

typedef struct LevelState
{
	/* the statement executing at this level now (set at its start) */
	uint64		running_queryid;
	uint64		running_serial; /* unit id of the levels nested below */

	/* the unit and its last statements */
	uint64		unit;
	uint32		nstatements;	/* in this unit so far */
	HistoryEntry history[HISTORY];

	/* the loop being followed: period 0 for none */
	int			period;
	uint64		positions[SDP_NPLUS1_MAX_PERIOD];
	int			position_shape[SDP_NPLUS1_MAX_PERIOD];
	int			last_position;
	int			nshapes;
	LoopShapeState shapes[SDP_NPLUS1_MAX_PERIOD];
	int64		iterations;
	int64		skipped;
	int			pending;		/* executions of the loop's shapes not yet added */
	uint64		parent_queryid;
	bool		parent_evidence;	/* it returned enough rows to drive the loop */
	bool		deferred;		/* shapes wait for the loop's end (a chain) */
	uint32		xact_start;		/* history index where the level-0
								 * transaction block began */
	int64		parent_rows;	/* -1: unknown */
	uint64		loop_id;
	uint64		pattern_generation;
} LevelState;

static LevelState levels[SDP_NPLUS1_MAX_LEVELS];
static uint64 statement_serial = 0;
static int	untimed_countdown = TIME_ONE_IN;
static bool exit_flush_registered = false;

/* the level-0 chain: where it is, and the transaction it saw last */
static uint64 chain_serial = 0;
static TimestampTz last_client_end = 0;
static LocalTransactionId chain_lxid = InvalidLocalTransactionId;
static int	chain_xact_statements = 0;
static bool chain_xact_in_block = false;

/* request_id as last seen, and its hash */
static char cached_request[256];
static uint64 cached_request_hash = 0;

/* Is N+1 detection on for a statement at this nesting level?  No lock, hot path. */
bool
sdp_nplus1_watching(int level)
{
	return sdp_enabled && sdp_nplus1_detection && level < SDP_NPLUS1_MAX_LEVELS &&
		sdp_store != NULL && !IsParallelWorker() &&
		(!sdp_own_code_running() || sdp_nplus1_include_internal);
}

/* A shape's time in this loop: measured, or estimated from its timed executions. */
static double
shape_time(const LoopShapeState *shape)
{
	if (shape->timed_execs == shape->execs)
		return shape->timed_ms;
	if (shape->timed_execs == 0)
		return 0.0;
	return shape->timed_ms * (double) shape->execs / (double) shape->timed_execs;
}

/* Add what the level's confirmed loop ran since the last time to its patterns. */
static void
flush_level(LevelState *st)
{
	for (int s = 0; s < st->nshapes; s++)
	{
		LoopShapeState *shape = &st->shapes[s];

		if (shape->pending > 0 && shape->pattern != NULL)
		{
			double		ms = shape_time(shape) - shape->reported_ms;

			ms = Max(ms, 0.0);
			sdp_nplus1_add_repeat(shape->pattern, st->pattern_generation,
								  shape->pending, shape->execs, ms);
			shape->reported_ms += ms;
		}
		shape->pending = 0;
	}
	st->pending = 0;
}

static void settle_deferred(LevelState *st, int level);

/* The level's loop ended: its last executions and deferred shapes go to the table. */
static void
end_loop(LevelState *st, int level)
{
	if (st->pending > 0)
		flush_level(st);
	if (st->deferred)
		settle_deferred(st, level);
	st->period = 0;
}

/* The session ends: every level's loop with it. */
static void
flush_all_levels(int code, Datum arg)
{
	for (int l = 0; l < SDP_NPLUS1_MAX_LEVELS; l++)
		if (levels[l].period > 0)
			end_loop(&levels[l], l);
}

/*
 * A statement at this level that is no executor statement (DO, CALL)
 * finished without error: the units below it have ended.  No lock unless a
 * confirmed loop ran below it.
 */
void
sdp_nplus1_utility_end(int level)
{
	if (level + 1 < SDP_NPLUS1_MAX_LEVELS && levels[level + 1].pending > 0)
		flush_level(&levels[level + 1]);
}

/*
 * Does the detector want this statement timed?  Asked only for statements
 * the profiler does not time: one in TIME_ONE_IN (see above).  No lock,
 * hot path.
 */
bool
sdp_nplus1_wants_timing(void)
{
	if (--untimed_countdown > 0)
		return false;
	untimed_countdown = TIME_ONE_IN;
	return true;
}

/*
 * A statement starts executing at this level (ExecutorStart or a utility
 * statement): it is the enclosing unit for whatever runs nested in it.
 */
void
sdp_nplus1_statement_start(int level, uint64 queryid)
{
	if (level >= SDP_NPLUS1_MAX_LEVELS)
		return;
	levels[level].running_queryid = queryid;
	levels[level].running_serial = ++statement_serial;
	/* the units below the previous statement here have ended */
	if (level + 1 < SDP_NPLUS1_MAX_LEVELS && levels[level + 1].pending > 0)
		flush_level(&levels[level + 1]);
}

/* The unit of a client statement that started at start (see the header). */
static uint64
client_unit(TimestampTz start)
{
	LocalTransactionId lxid = SDP_MY_LXID;

	if (sdp_request_id != NULL && sdp_request_id[0] != '\0')
	{
		if (strncmp(sdp_request_id, cached_request, sizeof(cached_request) - 1) != 0)
		{
			strlcpy(cached_request, sdp_request_id, sizeof(cached_request));
			cached_request_hash = hash_bytes_extended((const unsigned char *) cached_request,
													  strlen(cached_request), 0);
		}
		return UNIT_REQUEST | (cached_request_hash >> 2);
	}

	if (lxid != chain_lxid)
	{
		/* a new transaction: a new chain after a multi-statement block or a pause */
		if ((chain_xact_in_block && chain_xact_statements >= 2) ||
			UNIT_KIND(levels[0].unit) != UNIT_CHAIN || last_client_end == 0 ||
			start - last_client_end > (TimestampTz) sdp_nplus1_max_gap_ms * 1000)
			++chain_serial;
		chain_lxid = lxid;
		chain_xact_statements = 0;
	}
	chain_xact_statements++;
	chain_xact_in_block = IsTransactionBlock();
	return UNIT_CHAIN | chain_serial;
}

/* Text of a statement the profiler knows, copied; NULL if it does not. */
static char *
known_text(uint64 queryid, bool toplevel, int *len)
{
	SdpEntryKey key;
	uint32		hash;
	SdpEntry   *entry;
	char	   *text = NULL;

	hash = sdp_store_make_key(&key, GetUserId(), MyDatabaseId, queryid, toplevel);
	LWLockAcquire(sdp_store->lock, LW_SHARED);
	entry = sdp_store_lookup(&key, hash);
	if (entry != NULL)
	{
		*len = entry->query_len;
		text = pnstrdup(entry->query, entry->query_len);
	}
	LWLockRelease(sdp_store->lock);
	return text;
}

/*
 * The last comment of the statement's own text, the tags a framework adds
 * (SQLCommenter, Rails query log tags, marginalia), into tags; "" if none.
 */
static void
statement_tags(QueryDesc *queryDesc, char *tags)
{
	int			location = queryDesc->plannedstmt->stmt_location;
	int			len = queryDesc->plannedstmt->stmt_len;
	const char *text = CleanQuerytext(queryDesc->sourceText, &location, &len);
	const char *open = NULL;
	const char *close = NULL;

	tags[0] = '\0';
	for (const char *p = text; p + 1 < text + len; p++)
		if (p[0] == '/' && p[1] == '*')
			open = p;
	if (open != NULL)
		for (const char *p = open + 2; p + 1 < text + len; p++)
			if (p[0] == '*' && p[1] == '/')
			{
				close = p;
				break;
			}
	if (open != NULL && close != NULL)
	{
		int			n = pg_mbcliplen(open + 2, close - open - 2,
									 SDP_NPLUS1_TAGS_LEN - 1);

		memcpy(tags, open + 2, n);
		tags[n] = '\0';
	}
}

/*
 * One LOG line for a pattern seen for the first time: one message for a
 * loop after a parent query, one for a loop on its own; the statement (and
 * its parent's text, when known) in the detail.
 */
static void
log_new_pattern(const SdpPatternKey *key, int64 repeats, bool in_function,
				const char *query, const char *parent)
{
	if (key->parent_queryid != 0)
		ereport(LOG,
				(errmsg("N+1 pattern: query %lld repeated %lld times after its parent query %lld",
						(long long) key->queryid, (long long) repeats,
						(long long) key->parent_queryid),
				 parent == NULL ?
				 errdetail(in_function ? "Repeated inside a function: %s" : "Repeated: %s", query) :
				 errdetail(in_function ? "Repeated inside a function: %s\nParent: %s" :
						   "Repeated: %s\nParent: %s", query, parent)));
	else
		ereport(LOG,
				(errmsg("N+1 pattern: query %lld repeated %lld times",
						(long long) key->queryid, (long long) repeats),
				 errdetail(in_function ? "Repeated inside a function: %s" : "Repeated: %s", query)));
}

/* Add a shape of the loop to the pattern table, with what the loop ran so far. */
static void
record_shape(LevelState *st, LoopShapeState *shape, int level)
{
	PreparedShape *prep = shape->prepared;
	SdpBurst	burst;
	bool		is_new;

	burst.kind = prep->kind;
	burst.loop = &prep->loop;
	burst.repeats = shape->execs;
	burst.exec_ms = shape_time(shape);
	shape->reported_ms = burst.exec_ms;
	burst.parent_rows = -1;
	if (shape->parent_queryid == st->parent_queryid)
		burst.parent_rows = st->parent_rows;
	else
	{
		/* nested under another shape of the loop: its rows per execution */
		for (int i = 0; i < st->nshapes; i++)
			if (st->shapes[i].queryid == shape->parent_queryid &&
				st->shapes[i].execs > 0)
				burst.parent_rows = st->shapes[i].rows / st->shapes[i].execs;
	}
	burst.tags = prep->tags;
	burst.query = prep->query;
	burst.query_len = prep->query_len;
	burst.parent = prep->parent;
	burst.parent_len = prep->parent_len;

	st->pattern_generation = sdp_nplus1_generation();
	shape->pattern = sdp_nplus1_confirm(&prep->key, &burst, &is_new);
	if (is_new && sdp_nplus1_log)
		log_new_pattern(&prep->key, shape->execs, level > 0, prep->query,
						prep->parent);
}

static void
forget_prepared(LoopShapeState *shape)
{
	if (shape->prepared == NULL)
		return;
	pfree(shape->prepared->query);
	if (shape->prepared->parent)
		pfree(shape->prepared->parent);
	pfree(shape->prepared);
	shape->prepared = NULL;
}

/*
 * A loop whose confirmation waited for its end (a chain of autocommit
 * statements) ended: it was the parent's loop if it ran no more iterations
 * than the parent returned rows; then its shapes become patterns.
 */
static void
settle_deferred(LevelState *st, int level)
{
	bool		driven = st->parent_rows >= st->iterations;

	for (int s = 0; s < st->nshapes; s++)
	{
		LoopShapeState *shape = &st->shapes[s];

		if (shape->prepared != NULL && driven)
			record_shape(st, shape, level);
		forget_prepared(shape);
		shape->pattern = NULL;
	}
	st->deferred = false;
}

/*
 * The loop has run its nplus1_min_repeats iterations and this statement is
 * its shape s: decide whether the shape is a pattern, and take what the
 * pattern needs (texts, tags) while its statement is at hand.  Recorded
 * now, or, with defer, when the loop ends (settle_deferred()).
 */
static void
confirm_shape(LevelState *st, int s, QueryDesc *queryDesc, int level,
			  bool defer)
{
	LoopShapeState *shape = &st->shapes[s];
	CmdType		cmd = queryDesc->operation;
	PreparedShape *prep;
	SdpLoopShape loop;
	char	   *query;
	int			query_len;

	shape->decided = true;
	memset(&loop, 0, sizeof(loop));
	loop.origin = sdp_own_code_running() ? SDP_ORIGIN_EXTENSION :
		sdp_nplus1_system_statement(queryDesc, level);
	if (loop.origin != SDP_ORIGIN_APPLICATION && !sdp_nplus1_include_internal)
		return;

	query = known_text(shape->queryid, level == 0, &query_len);
	if (query == NULL)
		query = sdp_statement_source_text(queryDesc, sdp_max_query_text, &query_len);
	if (shape->per_iteration == 1 && st->nshapes == 1 && sdp_nplus1_keyset_page(query))
	{
		pfree(query);
		return;
	}

	prep = MemoryContextAllocZero(TopMemoryContext, sizeof(PreparedShape));
	prep->query = MemoryContextStrdup(TopMemoryContext, query);
	prep->query_len = query_len;
	pfree(query);

	prep->key.userid = GetUserId();
	prep->key.dbid = MyDatabaseId;
	prep->key.queryid = shape->queryid;
	prep->key.parent_queryid = shape->parent_queryid;
	prep->key.appid = hash_bytes_extended((const unsigned char *) sdp_store_current_appname(),
										  strlen(sdp_store_current_appname()), 0);
	prep->key.loop_id = st->loop_id;
	prep->key.nested = level > 0;

	loop.nshapes = st->nshapes;
	loop.position = s + 1;
	loop.per_iteration = shape->per_iteration;
	for (int i = 0; i < st->nshapes; i++)
		loop.queryids[i] = st->shapes[i].queryid;
	prep->loop = loop;
	prep->kind = (cmd == CMD_INSERT || cmd == CMD_UPDATE ||
				  cmd == CMD_DELETE || cmd == CMD_MERGE)
		? SDP_LOOP_DML : SDP_LOOP_SELECT;

	prep->parent_len = -1;
	if (shape->parent_queryid != 0)
	{
		char	   *parent = known_text(shape->parent_queryid, true, &prep->parent_len);

		if (parent == NULL)
			parent = known_text(shape->parent_queryid, false, &prep->parent_len);
		if (parent == NULL)
			prep->parent_len = -1;
		else
		{
			prep->parent = MemoryContextStrdup(TopMemoryContext, parent);
			pfree(parent);
		}
	}
	statement_tags(queryDesc, prep->tags);
	shape->prepared = prep;

	if (!exit_flush_registered)
	{
		/* what a loop ran last is not lost when the session ends */
		before_shmem_exit(flush_all_levels, (Datum) 0);
		exit_flush_registered = true;
	}
	if (defer)
	{
		st->deferred = true;
		return;
	}
	record_shape(st, shape, level);
	forget_prepared(shape);
}

/*
 * The last 2p statements of the unit are one sequence of p shapes twice
 * over: follow that loop.  The shape met several times per iteration is
 * nested under the shape before it; the others are driven by the
 * statement before the loop.
 */
static void
start_loop(LevelState *st, int p, int level)
{
	uint32		n = st->nstatements;
	uint32		first = n - 2 * p;
	uint64		h = UINT64CONST(0x9e3779b97f4a7c15);

	st->period = p;
	st->nshapes = 0;
	for (int i = 0; i < p; i++)
	{
		uint64		q = st->history[(first + i) & HISTORY_MASK].queryid;
		int			s;

		st->positions[i] = q;
		for (s = 0; s < st->nshapes; s++)
			if (st->shapes[s].queryid == q)
				break;
		if (s == st->nshapes)
		{
			memset(&st->shapes[s], 0, sizeof(LoopShapeState));
			st->shapes[s].queryid = q;
			st->nshapes++;
		}
		st->position_shape[i] = s;
		st->shapes[s].per_iteration++;
		h = hash_combine64(h, q);
	}
	for (uint32 i = first; i < n; i++)
	{
		const HistoryEntry *e = &st->history[i & HISTORY_MASK];
		LoopShapeState *shape = &st->shapes[st->position_shape[(i - first) % p]];

		shape->execs++;
		if (e->timed)
		{
			shape->timed_execs++;
			shape->timed_ms += e->exec_ms;
		}
		shape->rows += e->rows;
	}

	/*
	 * The loop's parent: the statement that drives it.  Of the statements
	 * before it in the unit that are none of its shapes (an earlier,
	 * broken-off run of the loop is part of it), the nearest that returned
	 * enough rows to drive nplus1_min_repeats iterations; failing that, the
	 * nearest; the enclosing statement when the unit starts with the loop.
	 * Whether one returned enough rows is the evidence a chain of
	 * autocommit statements needs (loop_step()).
	 */
	st->parent_queryid = level > 0 ? levels[level - 1].running_queryid : 0;
	st->parent_rows = -1;
	st->parent_evidence = false;
	{
		bool		nearest_found = false;

		/* not beyond the start of a multi-statement transaction block */
		uint32		floor = (level == 0 && UNIT_KIND(st->unit) == UNIT_CHAIN &&
							 chain_xact_in_block && chain_xact_statements >= 2 &&
							 st->xact_start <= first) ? st->xact_start : 0;

		for (uint32 i = first; i > floor && n - i < HISTORY; i--)
		{
			const HistoryEntry *e = &st->history[(i - 1) & HISTORY_MASK];
			int			s;

			for (s = 0; s < st->nshapes; s++)
				if (st->shapes[s].queryid == e->queryid)
					break;
			if (s < st->nshapes)
				continue;
			if (e->rows >= sdp_nplus1_min_repeats)
			{
				st->parent_queryid = e->queryid;
				st->parent_rows = e->rows;
				st->parent_evidence = true;
				break;
			}
			if (!nearest_found)
			{
				st->parent_queryid = e->queryid;
				st->parent_rows = e->rows;
				nearest_found = true;
			}
		}
	}
	for (int s = 0; s < st->nshapes; s++)
	{
		st->shapes[s].parent_queryid = st->parent_queryid;
		if (st->shapes[s].per_iteration > 1)
		{
			/* the nearest other shape before its first position */
			int			i = 0;

			while (st->positions[i] != st->shapes[s].queryid)
				i++;
			for (int back = 1; back < p; back++)
			{
				uint64		q = st->positions[(i - back + p) % p];

				if (q != st->shapes[s].queryid)
				{
					st->shapes[s].parent_queryid = q;
					break;
				}
			}
		}
	}
	st->loop_id = hash_combine64(h, st->parent_queryid);
	st->last_position = p - 1;
	st->iterations = 2;
	st->skipped = 0;
	st->pending = 0;
	st->deferred = false;
}

/* Look for a loop ending with the statement just added to the history. */
static void
find_loop(LevelState *st, int level)
{
	uint32		n = st->nstatements;
	uint64		q = st->history[(n - 1) & HISTORY_MASK].queryid;

	for (int p = 1; p <= SDP_NPLUS1_MAX_PERIOD && 2 * (uint32) p <= n; p++)
	{
		int			k;

		if (st->history[(n - 1 - p) & HISTORY_MASK].queryid != q)
			continue;
		for (k = 1; k < p; k++)
			if (st->history[(n - 1 - k) & HISTORY_MASK].queryid !=
				st->history[(n - 1 - p - k) & HISTORY_MASK].queryid)
				break;
		if (k == p)
		{
			start_loop(st, p, level);
			return;
		}
	}
}

/*
 * The statement is at position pos of the loop: count it, confirm its shape
 * when the loop is long enough, feed its pattern when confirmed.
 */
static void
loop_step(LevelState *st, int pos, QueryDesc *queryDesc, int level,
		  uint64 unit, int64 rows, bool timed, double elapsed_ms)
{
	int			advance = (pos - st->last_position + st->period) % st->period;
	LoopShapeState *shape = &st->shapes[st->position_shape[pos]];

	if (advance == 0)
		advance = st->period;
	st->skipped += advance - 1;
	if (st->last_position + advance >= st->period)
		st->iterations++;
	st->last_position = pos;
	shape->execs++;
	if (timed)
	{
		shape->timed_execs++;
		shape->timed_ms += elapsed_ms;
	}
	shape->rows += rows;

	if (shape->pattern != NULL)
	{
		shape->pending++;
		if (++st->pending >= FLUSH_EVERY)
			flush_level(st);
	}
	else if (!shape->decided && st->iterations >= sdp_nplus1_min_repeats)
	{
		/* a chain of autocommit statements: only a loop over its parent's rows */
		bool		chain = level == 0 && UNIT_KIND(unit) == UNIT_CHAIN &&
			!(chain_xact_in_block && chain_xact_statements >= 2);

		if (!chain || st->parent_evidence)
			confirm_shape(st, st->position_shape[pos], queryDesc, level, chain);
		else
			shape->decided = true;	/* a hot endpoint's run: not asked again */
	}
}

/*
 * A statement finished at this level.  O(1) unless it may start a loop
 * (it matches one of the last five) or belongs to a confirmed one.
 */
void
sdp_nplus1_statement_end(QueryDesc *queryDesc, int level, bool timed,
						 double elapsed_ms)
{
	LevelState *st;
	uint64		queryid = queryDesc->plannedstmt->queryId;
	int64		rows = (int64) queryDesc->estate->es_processed;
	uint64		unit;
	HistoryEntry *e;

	if (level >= SDP_NPLUS1_MAX_LEVELS || queryid == UINT64CONST(0))
		return;
	st = &levels[level];

	if (level == 0)
	{
		TimestampTz start = GetCurrentStatementStartTimestamp();

		unit = client_unit(start);
		last_client_end = start + (TimestampTz) (elapsed_ms * 1000.0);
	}
	else
		unit = levels[level - 1].running_serial;

	if (st->unit != unit)
	{
		if (st->period > 0)
			end_loop(st, level);
		st->unit = unit;
		st->nstatements = 0;
	}
	if (level == 0 && chain_xact_statements == 1)
		st->xact_start = st->nstatements;

	if (st->period > 0)
	{
		int			pos = (st->last_position + 1) % st->period;
		int			i;

		/* expected next, or later in the iteration (skipping the ones between) */
		for (i = 0; i < st->period; i++)
			if (st->positions[(pos + i) % st->period] == queryid)
				break;
		if (i < st->period && 2 * (st->skipped + i) <= st->iterations)
			loop_step(st, (pos + i) % st->period, queryDesc, level, unit,
					  rows, timed, elapsed_ms);
		else
			end_loop(st, level);	/* the loop ended */
	}

	e = &st->history[st->nstatements & HISTORY_MASK];
	e->queryid = queryid;
	e->rows = rows;
	e->exec_ms = elapsed_ms;
	e->timed = timed;
	st->nstatements++;

	if (st->period == 0)
		find_loop(st, level);

	/* the unit of the level below was this statement: it ended */
	if (level + 1 < SDP_NPLUS1_MAX_LEVELS && levels[level + 1].pending > 0)
		flush_level(&levels[level + 1]);
}
