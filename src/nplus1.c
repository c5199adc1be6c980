/*-------------------------------------------------------------------------
 *
 * nplus1.c
 *	  N+1 detection, per backend: watches the statements this session runs
 *	  and finds bursts of one query shape inside one unit of work, the ORM's
 *	  lazy-loading loop, the row-by-row DML loop, and the same inside
 *	  PL/pgSQL.  Confirmed bursts go to the pattern table (nplus1_store.c).
 *
 *	  A run is a sequence of consecutive executions of the same query id at
 *	  the same nesting level in the same unit of work.  Another statement at
 *	  that level ends the run; the statement just before a run is its parent.
 *	  The unit of work of a client statement (level 0) is, in this order:
 *	  - the value of smart_dairy_perf.request_id, when the application sets
 *	    it (SET LOCAL per request): exact grouping;
 *	  - the transaction, inside an explicit transaction block: a hot endpoint
 *	    whose every request is its own transaction never forms a run;
 *	  - otherwise (autocommit), a chain of statements each starting at most
 *	    nplus1_max_gap_ms after the previous one ended.  Such a run must
 *	    follow a parent statement in its chain: a connection that does
 *	    nothing but one lookup, back to back, is a hot endpoint, not a loop.
 *	  The unit of a nested statement is the execution of the statement that
 *	  encloses it (one call of a function, one DO block).
 *
 *	  A run becomes a burst when it reaches nplus1_min_repeats; from then on
 *	  each further execution is added to the pattern as it happens, so the
 *	  view is current even while the loop still runs.
 *
 *	  Cost: per statement, a few comparisons on per-backend state (measured:
 *	  135 instructions per point SELECT, 2.7 % of what pg_stat_statements
 *	  adds); shared memory only for statements of a confirmed burst.  The statement end
 *	  time is derived from its start and its measured duration, so no extra
 *	  clock read is needed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/proc.h"

#include "compat.h"
#include "normalize.h"
#include "nplus1.h"
#include "profiler_store.h"
#include "sdp_config.h"

/* which kind of unit a level-0 unit id stands for (top bits) */
#define UNIT_REQUEST	(UINT64CONST(1) << 62)
#define UNIT_XACT		(UINT64CONST(2) << 62)
#define UNIT_CHAIN		(UINT64CONST(3) << 62)
#define UNIT_KIND(u)	((u) & (UINT64CONST(3) << 62))

typedef struct LevelState
{
	/* the statement executing at this level now (set at its start) */
	uint64		running_queryid;
	uint64		running_serial; /* unit id of the levels nested below */

	/* the current run */
	uint64		unit;
	uint64		queryid;		/* 0: no run */
	uint64		parent_queryid;
	int64		repeats;
	double		exec_ms;
	SdpPattern *pattern;		/* set once the run is a confirmed burst */
	uint64		pattern_generation;
} LevelState;

static LevelState levels[SDP_NPLUS1_MAX_LEVELS];
static uint64 statement_serial = 0;
static uint64 chain_serial = 0;
static TimestampTz last_client_end = 0;

/* request_id as last seen, and its hash */
static char cached_request[256];
static uint64 cached_request_hash = 0;

/* Is N+1 detection on for a statement at this nesting level?  No lock, hot path. */
bool
sdp_nplus1_watching(int level)
{
	return sdp_enabled && sdp_nplus1_detection && level < SDP_NPLUS1_MAX_LEVELS &&
		sdp_store != NULL && !IsParallelWorker();
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
}

static uint64
client_unit(TimestampTz start)
{
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
	if (IsTransactionBlock())
		return UNIT_XACT | (uint64) SDP_MY_LXID;

	/* autocommit: continue the chain if this statement followed closely */
	if (UNIT_KIND(levels[0].unit) != UNIT_CHAIN || last_client_end == 0 ||
		start - last_client_end > (TimestampTz) sdp_nplus1_max_gap_ms * 1000)
		++chain_serial;
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

static char *
statement_text(QueryDesc *queryDesc, int level, int *len)
{
	char	   *text = known_text(queryDesc->plannedstmt->queryId, level == 0, len);

	if (text == NULL)
		text = sdp_statement_source_text(queryDesc, sdp_max_query_text, len);
	return text;
}


/*
 * One LOG line for a pattern seen for the first time: one message for a
 * loop after a parent query, one for a loop on its own; the statement (and
 * its parent's text, when known) in the detail.
 */
static void
log_new_pattern(const LevelState *st, bool in_function, const char *query,
				const char *parent)
{
	if (st->parent_queryid != 0)
		ereport(LOG,
				(errmsg("N+1 pattern: query %lld repeated %lld times after its parent query %lld",
						(long long) st->queryid, (long long) st->repeats,
						(long long) st->parent_queryid),
				 parent == NULL ?
				 errdetail(in_function ? "Repeated inside a function: %s" : "Repeated: %s", query) :
				 errdetail(in_function ? "Repeated inside a function: %s\nParent: %s" :
						   "Repeated: %s\nParent: %s", query, parent)));
	else
		ereport(LOG,
				(errmsg("N+1 pattern: query %lld repeated %lld times",
						(long long) st->queryid, (long long) st->repeats),
				 errdetail(in_function ? "Repeated inside a function: %s" : "Repeated: %s", query)));
}

/* The run reached the threshold: record it as a burst. */
static void
confirm_burst(LevelState *st, QueryDesc *queryDesc, int level)
{
	SdpPatternKey key;
	CmdType		cmd = queryDesc->operation;
	char		kind = (cmd == CMD_INSERT || cmd == CMD_UPDATE ||
						cmd == CMD_DELETE || cmd == CMD_MERGE)
		? SDP_LOOP_DML : SDP_LOOP_SELECT;
	char	   *query;
	char	   *parent = NULL;
	int			query_len;
	int			parent_len = -1;
	bool		is_new;

	memset(&key, 0, sizeof(key));
	key.userid = GetUserId();
	key.dbid = MyDatabaseId;
	key.queryid = st->queryid;
	key.parent_queryid = st->parent_queryid;
	key.appid = hash_bytes_extended((const unsigned char *) sdp_store_current_appname(),
									strlen(sdp_store_current_appname()), 0);
	key.nested = level > 0;

	query = statement_text(queryDesc, level, &query_len);
	if (st->parent_queryid != 0)
	{
		parent = known_text(st->parent_queryid, true, &parent_len);
		if (parent == NULL)
			parent = known_text(st->parent_queryid, false, &parent_len);
		if (parent == NULL)
			parent_len = -1;
	}

	st->pattern_generation = sdp_nplus1_generation();
	st->pattern = sdp_nplus1_confirm(&key, kind, st->repeats, st->exec_ms,
									 query, query_len, parent, parent_len,
									 &is_new);
	if (is_new && sdp_nplus1_log)
		log_new_pattern(st, level > 0, query, parent);
	pfree(query);
	if (parent)
		pfree(parent);
}

/*
 * A statement finished at this level.  O(1) unless the statement belongs to
 * a confirmed burst.
 */
void
sdp_nplus1_statement_end(QueryDesc *queryDesc, int level, double elapsed_ms)
{
	LevelState *st;
	uint64		queryid = queryDesc->plannedstmt->queryId;
	uint64		unit;

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

	if (st->queryid == queryid && st->unit == unit)
	{
		st->repeats++;
		st->exec_ms += elapsed_ms;
		if (st->pattern != NULL)
			sdp_nplus1_add_repeat(st->pattern, st->pattern_generation,
								  st->repeats, elapsed_ms);
		else if (st->repeats >= sdp_nplus1_min_repeats &&
				 (st->parent_queryid != 0 || UNIT_KIND(unit) != UNIT_CHAIN ||
				  level > 0))
			confirm_burst(st, queryDesc, level);
		return;
	}

	/* a new run starts; the statement before it in this unit is its parent */
	if (st->unit == unit && st->queryid != 0)
		st->parent_queryid = st->queryid;
	else if (level > 0)
		st->parent_queryid = levels[level - 1].running_queryid;
	else
		st->parent_queryid = 0;
	st->unit = unit;
	st->queryid = queryid;
	st->repeats = 1;
	st->exec_ms = elapsed_ms;
	st->pattern = NULL;
}
