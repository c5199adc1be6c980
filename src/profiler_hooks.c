/*-------------------------------------------------------------------------
 *
 * profiler_hooks.c
 *	  The query profiler's hooks: post_parse_analyze registers new query
 *	  shapes with their normalized text; ExecutorStart arms instrumentation;
 *	  ExecutorRun/Finish and ProcessUtility track the nesting level;
 *	  ExecutorEnd adds the execution to the statistics, hands slow ones to
 *	  slow_queries.c, every statement to the N+1 detector (nplus1.c) and
 *	  the sampled ones to predicate_sampler.c.  With track_utility,
 *	  ProcessUtility counts utility statements (time, buffers, WAL, the rows
 *	  of COPY, FETCH, CREATE TABLE AS and REFRESH); with track_planning, the
 *	  planner hook counts planning.  What is counted, and how, follows
 *	  pg_stat_statements 1.10 (test/t/020_pgss_oracle.pl checks it).  Plain
 *	  EXPLAIN, which starts and ends the executor without running it, is
 *	  none of these (see explain_only()).  Every hook chains to the one
 *	  installed before it.
 *
 *	  Hot-path rules (these hooks run inside every user query):
 *	  - no error is raised into the user's query: shared memory is fixed, the
 *	    hash table is probed with HASH_ENTER_NULL, nothing here does catalog
 *	    access (but the N+1 detector, once per backend, the first time it
 *	    confirms a loop nested in a function: nplus1_noise.c reads the
 *	    system SQL functions' bodies), and plan capture catches its own
 *	    errors;
 *	  - the store's LWLock is taken shared for known shapes; exclusively only
 *	    for a shape this server has not seen (profiler_store.c);
 *	  - per execution, the only allocation is the query-total Instrumentation
 *	    in the executor's per-query context (freed with the query); text is
 *	    built only for new shapes and slow executions.
 *	  Measured cost (test/bench/profiler_overhead.sh, callgrind, one point
 *	  SELECT on a single-user backend, version 1.2): 4,727 instructions per
 *	  query over a server with nothing preloaded, of which 2,774 are
 *	  PostgreSQL's own query id; pg_stat_statements adds 5,082 in the same
 *	  run.  N+1 detection is 80 of ours (1.3's loop detector: 280 per
 *	  top-level statement, 331 per statement nested in PL/pgSQL); a
 *	  statement sampled for predicates
 *	  costs about 650 more, the others a countdown.  Printing a slow
 *	  statement's plan costs about 20,000.  Version 1.3, track_utility on:
 *	  point SELECT +4,771 (pg_stat_statements +5,089), SET +1,431 (+1,325;
 *	  279 of ours are PostgreSQL's pass over our 31 settings at the end of
 *	  a transaction that ran SET); README, "Overhead".
 *	  A new shape also records its sample (the statement's text, clipped at
 *	  max_query_text) and the search_path setting: in one run against the
 *	  1.2 build, a known shape costs 4,783 instructions (1.2: 4,765), a new
 *	  shape about 18,800 more than in 1.2 (texts near 1 kB;
 *	  pg_stat_statements pays 112,000 more than we do for a new shape).
 *
 *	  Nesting: nesting_level counts executor and utility frames so that a
 *	  statement run inside a function is not counted as top-level.  EXECUTE,
 *	  PREPARE and DEALLOCATE do not add a frame: the statement EXECUTE runs is
 *	  the client's own.  Levels are restored in PG_FINALLY, so an error in a
 *	  nested statement cannot leave the count off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "tcop/utility.h"

#include "compat.h"
#include "normalize.h"
#include "nplus1.h"
#include "predicates.h"
#include "profiler_hooks.h"
#include "profiler_store.h"
#include "sdp_config.h"
#include "slow_queries.h"

static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static planner_hook_type prev_planner = NULL;

/* executor and utility frames currently open in this backend */
static int	nesting_level = 0;

/*
 * planner calls currently open: only the planner's own tracking decision
 * counts them, so a statement that planning runs (a function folded to a
 * constant) is at the executor's level, as pg_stat_statements 1.10 has it.
 */
static int	planning_depth = 0;

/* whether the current top-level statement was picked for an analyzed plan */
static bool current_statement_sampled = false;

static inline bool
tracking(int level)
{
	return sdp_enabled && sdp_store != NULL &&
		(sdp_track == SDP_TRACK_ALL ||
		 (sdp_track == SDP_TRACK_TOP && level == 0)) &&
		!IsParallelWorker();
}

/*
 * Register a new query shape with its normalized text, its sample (the
 * statement's own text, constants included) and the search_path it was
 * parsed under.  For a shape this backend already knows this costs one
 * hash of the key and a compare; nothing is copied.
 */
static void
sdp_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	SdpEntryKey key;
	uint32		hash;
	SdpEntry   *entry;
	SdpNewEntry what;
	int			location = query->stmt_location;
	int			len = query->stmt_len;

	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);

	/*
	 * Utility statements have no constants to fold: their entry is made by
	 * ProcessUtility when they end.
	 */
	if (query->utilityStmt != NULL || query->queryId == UINT64CONST(0) ||
		!tracking(nesting_level))
		return;

	hash = sdp_store_make_key(&key, GetUserId(), MyDatabaseId, query->queryId,
							  nesting_level == 0);
	if (sdp_store_is_cached(&key, hash))
		return;

	LWLockAcquire(sdp_store->lock, LW_SHARED);
	entry = sdp_store_lookup(&key, hash);
	LWLockRelease(sdp_store->lock);
	if (entry != NULL)
		return;

	what.query = sdp_normalize_query(pstate->p_sourcetext, location, len,
									 jstate, sdp_max_query_text, &what.query_len);
	/* the store clips the sample at max_query_text */
	what.sample = sdp_keep_samples ?
		CleanQuerytext(pstate->p_sourcetext, &location, &len) : NULL;
	what.sample_len = len;
	what.search_path = namespace_search_path;
	what.encoding = GetDatabaseEncoding();
	(void) sdp_store_create(&key, hash, &what);
	pfree((char *) what.query);
}

/*
 * Plain EXPLAIN starts and ends the executor on the statement it explains
 * (EXEC_FLAG_EXPLAIN_ONLY) without running it: that is no execution, so it
 * is neither counted, watched for N+1 loops, captured as slow nor sampled
 * for predicates.  EXPLAIN ANALYZE does run the statement, one frame below
 * the EXPLAIN: it is counted as a nested execution with track = all (and
 * may be captured as slow), and not at all with track = top.
 */
static inline bool
explain_only(int eflags)
{
	return (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
}

static void
sdp_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	uint64		queryid = queryDesc->plannedstmt->queryId;
	bool		runs = !explain_only(eflags);
	bool		track = runs && tracking(nesting_level) &&
		queryid != UINT64CONST(0);
	bool		watch = runs && sdp_nplus1_watching(nesting_level) &&
		queryid != UINT64CONST(0);
	bool		sample_predicates = runs && sdp_enabled && sdp_store != NULL &&
		sdp_predicates_start(queryDesc, nesting_level == 0);

	/* decide once per top-level statement whether to capture actual rows */
	if (nesting_level == 0)
		current_statement_sampled =
			track && sdp_plan_capture == SDP_PLAN_SLOW_ANALYZE &&
			sdp_slow_query_ms >= 0 && sdp_plan_sample_rate > 0.0 &&
			(sdp_plan_sample_rate >= 1.0 ||
			 pg_prng_double(&pg_global_prng_state) < sdp_plan_sample_rate);

	if (track && current_statement_sampled)
		queryDesc->instrument_options |= INSTRUMENT_ROWS;

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (watch)
		sdp_nplus1_statement_start(nesting_level, queryid);
	if (sample_predicates)
		sdp_predicates_watch(queryDesc);

	/*
	 * Time, buffers and WAL of the whole statement, across Run calls.  For
	 * a statement only the N+1 detector watches (nested, track = top) just
	 * a timer, and only for the one statement in seven it times: the
	 * others it counts untimed, which saves the clock reads.
	 */
	if (queryDesc->totaltime == NULL &&
		(track || sample_predicates || (watch && sdp_nplus1_wants_timing())))
	{
		MemoryContext oldcxt;

		oldcxt = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);
		queryDesc->totaltime = InstrAlloc(1, track || sample_predicates ?
										  INSTRUMENT_ALL : INSTRUMENT_TIMER,
										  false);
		MemoryContextSwitchTo(oldcxt);
	}
}

static void
sdp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				bool execute_once)
{
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

static void
sdp_ExecutorFinish(QueryDesc *queryDesc)
{
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

/*
 * The entry for key, made with the text of the statement at [location,
 * location + len) of source if it is new (normalized without constants'
 * positions when normalize: comments and layout only).  Returns with
 * sdp_store->lock held shared, also when the entry is NULL (none could be
 * made); the caller releases it.
 */
static SdpEntry *
lookup_or_create(const SdpEntryKey *key, uint32 hash, const char *source,
				 int location, int len, bool normalize)
{
	SdpEntry   *entry;

	LWLockAcquire(sdp_store->lock, LW_SHARED);
	entry = sdp_store_lookup(key, hash);
	if (entry == NULL)
	{
		SdpNewEntry what;
		const char *stmt;
		char	   *text;

		LWLockRelease(sdp_store->lock);
		stmt = CleanQuerytext(source, &location, &len);
		if (normalize)
			text = sdp_normalize_query(stmt, 0, len, NULL,
									   sdp_max_query_text, &what.query_len);
		else
		{
			what.query_len = len > sdp_max_query_text ?
				pg_mbcliplen(stmt, len, sdp_max_query_text) : len;
			text = pnstrdup(stmt, what.query_len);
		}
		what.query = text;
		/* the store clips the sample at max_query_text */
		what.sample = sdp_keep_samples ? stmt : NULL;
		what.sample_len = len;
		what.search_path = namespace_search_path;
		what.encoding = GetDatabaseEncoding();
		(void) sdp_store_create(key, hash, &what);
		pfree(text);
		LWLockAcquire(sdp_store->lock, LW_SHARED);
		entry = sdp_store_lookup(key, hash);
	}
	return entry;
}

static void
record_execution(QueryDesc *queryDesc, double elapsed_ms)
{
	uint64		queryid = queryDesc->plannedstmt->queryId;
	Instrumentation *total = queryDesc->totaltime;
	SdpEntryKey key;
	uint32		hash;
	SdpEntry   *entry;
	bool		slow;
	char	   *slow_text = NULL;
	int			slow_text_len = 0;

	slow = sdp_slow_query_ms >= 0 && elapsed_ms >= sdp_slow_query_ms;

	hash = sdp_store_make_key(&key, GetUserId(), MyDatabaseId, queryid,
							  nesting_level == 0);

	entry = lookup_or_create(&key, hash, queryDesc->sourceText,
							 queryDesc->plannedstmt->stmt_location,
							 queryDesc->plannedstmt->stmt_len, false);
	if (entry != NULL)
	{
		EState	   *estate = queryDesc->estate;

		sdp_store_record(entry, elapsed_ms, estate->es_processed,
						 &total->bufusage, &total->walusage,
						 estate->es_jit ? &estate->es_jit->instr : NULL);
		/* the text of an entry never changes while the entry exists */
		if (slow)
		{
			slow_text_len = entry->query_len;
			slow_text = pnstrdup(entry->query, slow_text_len);
		}
	}
	LWLockRelease(sdp_store->lock);

	if (slow)
	{
		if (slow_text == NULL)
			slow_text = sdp_statement_source_text(queryDesc, sdp_max_query_text,
												  &slow_text_len);
		sdp_slow_capture(queryDesc, &key, elapsed_ms, slow_text, slow_text_len);
		pfree(slow_text);
	}
}

static void
sdp_ExecutorEnd(QueryDesc *queryDesc)
{
	/*
	 * totaltime may be another extension's, also on an EXPLAIN-only run; it
	 * is ours whenever the statement is tracked or sampled, and may be
	 * missing for one the N+1 detector only counts (then untimed: 0 ms).
	 */
	if (queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
		!explain_only(queryDesc->estate->es_top_eflags))
	{
		bool		timed = queryDesc->totaltime != NULL;
		bool		track = timed && tracking(nesting_level);
		bool		watch = sdp_nplus1_watching(nesting_level);
		bool		sampled = sdp_predicates_watched(queryDesc) && timed;

		if (track || watch || sampled)
		{
			double		elapsed_ms = 0.0;

			if (timed)
			{
				InstrEndLoop(queryDesc->totaltime);
				elapsed_ms = queryDesc->totaltime->total * 1000.0;
			}
			if (track)
				record_execution(queryDesc, elapsed_ms);
			if (watch)
				sdp_nplus1_statement_end(queryDesc, nesting_level, timed, elapsed_ms);
			if (sampled)
				sdp_predicates_harvest(queryDesc, elapsed_ms);
		}
	}

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/*
 * PREPARE, EXECUTE and DEALLOCATE are not statements of their own: the
 * statement EXECUTE runs is counted by the executor hooks, under the
 * prepared statement's query id, at the level of the EXECUTE.  They open
 * no frame and are not counted, as in pg_stat_statements.
 */
static inline bool
prepared_statement_command(Node *parsetree)
{
	return IsA(parsetree, ExecuteStmt) || IsA(parsetree, PrepareStmt) ||
		IsA(parsetree, DeallocateStmt);
}

/*
 * The rows a utility statement reports, for the commands whose completion
 * carries a row count: COPY, FETCH, CREATE TABLE AS / SELECT INTO / CREATE
 * MATERIALIZED VIEW (tag SELECT) and REFRESH MATERIALIZED VIEW.
 */
static inline uint64
utility_rows(const QueryCompletion *qc)
{
	if (qc == NULL)
		return 0;
	switch (qc->commandTag)
	{
		case CMDTAG_COPY:
		case CMDTAG_FETCH:
		case CMDTAG_SELECT:
		case CMDTAG_REFRESH_MATERIALIZED_VIEW:
			return qc->nprocessed;
		default:
			return 0;
	}
}

/* Add a finished utility statement to the statistics. */
static void
record_utility(const char *queryString, int location, int len, uint64 queryid,
			   int level, double elapsed_ms, uint64 rows,
			   const BufferUsage *bufusage, const WalUsage *walusage)
{
	SdpEntryKey key;
	uint32		hash;
	SdpEntry   *entry;

	hash = sdp_store_make_key(&key, GetUserId(), MyDatabaseId, queryid,
							  level == 0);
	entry = lookup_or_create(&key, hash, queryString, location, len, true);
	if (entry != NULL)
		sdp_store_record(entry, elapsed_ms, rows, bufusage, walusage, NULL);
	LWLockRelease(sdp_store->lock);
}

/*
 * Utility statements open a frame: statements a DO block, CALL or CREATE
 * TABLE AS runs are nested, not the client's.  With track_utility they are
 * counted under PostgreSQL's query id for them (a hash of the statement's
 * text: PostgreSQL 15 has no jumble of utility statements), with their
 * time, buffers, WAL and, for the commands that report one, rows.  A
 * statement that fails is not counted, like a failed query.
 *
 * pg_stat_statements, when its hook runs inside ours, sets the statement's
 * query id to 0 (for its executor hooks); the id is put back afterwards so
 * that a cached plan (a PL/pgSQL loop) keeps it for the next execution.
 * When its hook runs before ours, we find the id 0 and compute it again
 * from the text, as PostgreSQL did.
 *
 * What is needed of pstmt is read before the statement runs: a transaction
 * control statement (COMMIT, ROLLBACK) may free the memory it lives in, as
 * pg_stat_statements warns, so its id is not written back.
 */
/* Run the utility statement, in a frame of its own when opens_frame. */
static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest,
			QueryCompletion *qc, bool opens_frame)
{
	uint64		queryid = pstmt->queryId;
	int			level = nesting_level;
	bool		restore_id = !IsA(pstmt->utilityStmt, TransactionStmt);

	if (opens_frame)
		nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		nesting_level = level;
	}
	PG_END_TRY();
	/* after an error the id stays 0: the next run computes it again */
	if (restore_id)
		pstmt->queryId = queryid;
	/* a DO block's or CALL's loops are complete in the view now */
	if (opens_frame && sdp_nplus1_watching(nesting_level))
		sdp_nplus1_utility_end(nesting_level);
}

/*
 * PostgreSQL 15's query id of a utility statement, from its text, for when
 * a hook that ran before ours set it to 0 (pg_stat_statements listed after
 * us in shared_preload_libraries).  Not for the statements PostgreSQL runs
 * as parts of another (PROCESS_UTILITY_SUBCOMMAND), which have none.
 */
static uint64
utility_queryid_from_text(PlannedStmt *pstmt, const char *queryString,
						  ProcessUtilityContext context)
{
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	const char *text;
	uint64		queryid;

	if (context == PROCESS_UTILITY_SUBCOMMAND || !IsQueryIdEnabled())
		return UINT64CONST(0);
	text = CleanQuerytext(queryString, &location, &len);
	queryid = DatumGetUInt64(hash_any_extended((const unsigned char *) text,
											   len, 0));
	/* as PostgreSQL does: 0 means none, 1 is taken by normal statements */
	return queryid != UINT64CONST(0) ? queryid : UINT64CONST(2);
}

static void
sdp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	uint64		queryid = pstmt->queryId;
	bool		opens_frame = !prepared_statement_command(pstmt->utilityStmt);
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	instr_time	start;
	instr_time	duration;
	BufferUsage bufusage_start;
	BufferUsage bufusage;
	WalUsage	walusage_start;
	WalUsage	walusage;

	if (queryid == UINT64CONST(0) && opens_frame && sdp_track_utility)
	{
		queryid = utility_queryid_from_text(pstmt, queryString, context);
		/* handed on: a hook inside ours (pg_stat_statements) sees it too */
		pstmt->queryId = queryid;
	}
	if (opens_frame && sdp_nplus1_watching(nesting_level))
		sdp_nplus1_statement_start(nesting_level, queryid);

	if (!opens_frame || !sdp_track_utility || queryid == UINT64CONST(0) ||
		!tracking(nesting_level))
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc, opens_frame);
		return;
	}

	bufusage_start = pgBufferUsage;
	walusage_start = pgWalUsage;
	INSTR_TIME_SET_CURRENT(start);
	run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
				dest, qc, true);
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	memset(&bufusage, 0, sizeof(bufusage));
	BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
	memset(&walusage, 0, sizeof(walusage));
	WalUsageAccumDiff(&walusage, &pgWalUsage, &walusage_start);
	record_utility(queryString, location, len, queryid, nesting_level,
				   INSTR_TIME_GET_MILLISEC(duration), utility_rows(qc),
				   &bufusage, &walusage);
}

/*
 * With track_planning, each planning of a statement is counted with its
 * time, buffers and WAL, in the entry its executions go to.  The entry is
 * made from the raw text if parse analysis did not make it (a statement
 * prepared before a reset).
 */
static PlannedStmt *
sdp_planner(Query *parse, const char *query_string, int cursorOptions,
			ParamListInfo boundParams)
{
	PlannedStmt *result;
	instr_time	start;
	instr_time	duration;
	BufferUsage bufusage_start;
	BufferUsage bufusage;
	WalUsage	walusage_start;
	WalUsage	walusage;
	SdpEntryKey key;
	uint32		hash;
	SdpEntry   *entry;

	if (!sdp_track_planning || query_string == NULL ||
		parse->queryId == UINT64CONST(0) ||
		!tracking(nesting_level + planning_depth))
	{
		if (prev_planner)
			return prev_planner(parse, query_string, cursorOptions, boundParams);
		return standard_planner(parse, query_string, cursorOptions, boundParams);
	}

	bufusage_start = pgBufferUsage;
	walusage_start = pgWalUsage;
	INSTR_TIME_SET_CURRENT(start);
	planning_depth++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		planning_depth--;
	}
	PG_END_TRY();
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	memset(&bufusage, 0, sizeof(bufusage));
	BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
	memset(&walusage, 0, sizeof(walusage));
	WalUsageAccumDiff(&walusage, &pgWalUsage, &walusage_start);

	hash = sdp_store_make_key(&key, GetUserId(), MyDatabaseId, parse->queryId,
							  nesting_level == 0);
	entry = lookup_or_create(&key, hash, query_string, parse->stmt_location,
							 parse->stmt_len, false);
	if (entry != NULL)
		sdp_store_record_plan(entry, INSTR_TIME_GET_MILLISEC(duration),
							  &bufusage, &walusage);
	LWLockRelease(sdp_store->lock);
	return result;
}

/* Install the planner, executor and utility hooks, chaining to the previous ones; from _PG_init only. */
void
sdp_hooks_install(void)
{
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = sdp_post_parse_analyze;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = sdp_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = sdp_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = sdp_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = sdp_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = sdp_ProcessUtility;
	prev_planner = planner_hook;
	planner_hook = sdp_planner;
}
