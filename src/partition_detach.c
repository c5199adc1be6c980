/*-------------------------------------------------------------------------
 *
 * partition_detach.c
 *	  How retention takes a partition out of its table without stalling the
 *	  workload, and what it refuses to take out.
 *
 *	  Paths, each named in the message of its sdp.maintenance_log row:
 *	  - the background worker, where the table has no default partition:
 *	    ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, run here as a
 *	    top-level statement outside any transaction block (the worker is
 *	    the only caller that is not inside one), which holds only SHARE
 *	    UPDATE EXCLUSIVE on the parent, so reads and writes go on; its
 *	    first transaction's locks are taken first, parent first, with the
 *	    short lock attempts of lock_retry.c, and its wait for older queries
 *	    (which holds nothing a new query needs) lasts at most
 *	    smart_dairy_perf.detach_wait_timeout;
 *	  - a detach interrupted after its first transaction (a cancel, a
 *	    timeout, a crash) leaves pg_inherits.inhdetachpending set; the next
 *	    run finishes it with DETACH PARTITION ... FINALIZE before anything
 *	    else on that table (PostgreSQL allows one pending detach per table);
 *	  - plain DETACH PARTITION under the short lock attempts
 *	    (partition_manager.c) where CONCURRENTLY is impossible: the table
 *	    has a default partition, or maintenance runs inside the caller's
 *	    transaction (sdp.run_partition_maintenance(), sdp.prune_partitions()).
 *
 *	  Refused: a partition that a foreign key references (directly, or
 *	  through a foreign key to the partitioned table), and, when retention
 *	  drops, one a view depends on; the constraint or view is named, and
 *	  nothing is removed unless the configuration says to keep such
 *	  partitions quietly (retention_if_referenced = 'keep', still logged).
 *
 *	  Every statement runs as the table's owner in a security-restricted
 *	  operation, with names fully qualified and search_path = pg_catalog,
 *	  pg_temp (the worker's session has it); DETACH ... CONCURRENTLY too,
 *	  its first transaction in one and its second, which starts inside the
 *	  statement, as the owner but not restricted (see enter_restriction()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "lock_retry.h"
#include "maintenance_log.h"
#include "partition_detach.h"
#include "run_as_owner.h"
#include "sdp_config.h"
#include "spi_util.h"

/*
 * What retention of partition would break, as a phrase naming it ("foreign
 * key constraint \"x\" of table y references it"), or NULL.  drop: views
 * count too (a detached partition keeps them working).  Caller connected
 * to SPI.
 */
char *
sdp_retention_blocker(Oid partition, bool drop)
{
	Oid			types[2] = {OIDOID, BOOLOID};
	Datum		values[2] = {ObjectIdGetDatum(partition), BoolGetDatum(drop)};

	if (sdp_spi_exec("SELECT pg_catalog.format('foreign key constraint %I of table %s references it', "
					 "         coalesce(p.conname, c.conname), c.conrelid::pg_catalog.regclass) AS blocker "
					 "  FROM pg_catalog.pg_constraint c "
					 "  LEFT JOIN pg_catalog.pg_constraint p ON p.oid = c.conparentid "
					 " WHERE c.contype = 'f' AND c.confrelid = $1 AND c.conrelid <> $1 "
					 "UNION ALL "
					 "SELECT pg_catalog.format('view %s depends on it', r.ev_class::pg_catalog.regclass) "
					 "  FROM pg_catalog.pg_depend d "
					 "  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
					 " WHERE $2 AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
					 "   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					 "   AND d.refobjid = $1 AND r.ev_class <> $1 "
					 "ORDER BY 1 LIMIT 1", 2, types, values, NULL) == 0)
		return NULL;
	return pstrdup(sdp_spi_get_text(0, "blocker"));
}

typedef struct FinalizeArgs
{
	Oid			parent;
	Oid			owner;
	const char *qparent;
	const char *qpartition;
	bool		drop;
} FinalizeArgs;

static void
finalize_one(void *arg)
{
	FinalizeArgs *a = arg;

	/* parent first; the partition is no longer seen by new queries */
	LockRelationOid(a->parent, ShareUpdateExclusiveLock);
	sdp_spi_exec_as_owner(a->owner, psprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE",
											 a->qparent, a->qpartition));
	if (a->drop)
		sdp_spi_exec_as_owner(a->owner, psprintf("DROP TABLE %s", a->qpartition));
}

/*
 * Finish every detach of parent left pending by an interrupted DETACH ...
 * CONCURRENTLY, each in a subtransaction, under the caller's lock_timeout;
 * with drop, a finished one whose range is older than the retention is
 * dropped as retention would have.  Logs each.  Returns false when one is
 * still pending (retention of the table then waits for the next run).
 * Caller connected to SPI, holding the parent's maintenance lock.
 */
bool
sdp_partition_finalize_pending(Oid parent, Oid owner, const char *qparent,
							   const char *timezone, const Interval *retention,
							   bool drop, TimestampTz started)
{
	Oid			types[3] = {OIDOID, TEXTOID, INTERVALOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', retention ? ' ' : 'n'};
	uint64		n;
	bool		all_done = true;
	struct
	{
		char	   *qname;
		char	   *range;
		bool		expired;
	}		   *pending;

	values[0] = ObjectIdGetDatum(parent);
	values[1] = CStringGetTextDatum(timezone);
	values[2] = retention ? IntervalPGetDatum(retention) : (Datum) 0;
	n = sdp_spi_exec("SELECT pg_catalog.quote_ident(n.nspname) || '.' || "
					 "       pg_catalog.quote_ident(c.relname) AS qname, "
					 "       pg_catalog.format('[%s, %s)', p.range_from, p.range_to) AS range, "
					 "       coalesce($3 IS NOT NULL AND p.to_local <= "
					 "                (pg_catalog.now() AT TIME ZONE $2) - $3, false) AS expired "
					 "  FROM pg_catalog.pg_inherits i "
					 "  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
					 "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					 "  LEFT JOIN sdp._range_partitions($2, $1) p ON p.partition = i.inhrelid "
					 " WHERE i.inhparent = $1 AND i.inhdetachpending",
					 3, types, values, nulls);
	if (n == 0)
		return true;
	pending = palloc(sizeof(*pending) * n);
	for (uint64 i = 0; i < n; i++)
	{
		pending[i].qname = pstrdup(sdp_spi_get_text(i, "qname"));
		pending[i].range = pstrdup(sdp_spi_get_text(i, "range"));
		pending[i].expired = sdp_spi_bool(i, "expired");
	}

	for (uint64 i = 0; i < n; i++)
	{
		FinalizeArgs args = {parent, owner, qparent, pending[i].qname,
		drop && pending[i].expired};
		ErrorData  *edata = sdp_run_in_subtransaction(finalize_one, &args);

		if (edata == NULL)
		{
			sdp_maintenance_log_rel(parent, started, pending[i].qname,
									args.drop ? "drop partition" : "detach partition", "ok",
									psprintf("range %s: a detach interrupted earlier finished with "
											 "DETACH PARTITION ... FINALIZE%s", pending[i].range,
											 args.drop ? ", then dropped" : ""));
			continue;
		}
		all_done = false;
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			sdp_maintenance_log_rel(parent, started, pending[i].qname, "detach partition", "skipped",
									psprintf("pending detach not finished: %s; FINALIZE is tried again at the next run, "
											 "retention of the table waits for it", edata->message));
		else
			sdp_maintenance_log_failure(parent, started, pending[i].qname, "detach partition", "error",
										NULL, edata->message,
										"could not finish the pending detach of partition %s of table %s",
										pending[i].qname, qparent);
		FreeErrorData(edata);
	}
	return all_done;
}

/* ----------------------------------------------------------------------
 * The background worker's top-level statements
 * ----------------------------------------------------------------------
 */

/*
 * Run one utility statement as a top-level statement (not in a transaction
 * block: DETACH ... CONCURRENTLY commits its first transaction and starts
 * a second).  cxt outlives both: the parse tree and the work queue of
 * ALTER TABLE live in it.  Caller in a transaction started by
 * StartTransactionCommand() with an active snapshot, SPI not connected.
 */
static void
run_top_level_utility(const char *sql, MemoryContext cxt)
{
	MemoryContext saved_portal = PortalContext;
	List	   *raw;
	RawStmt    *rs;
	PlannedStmt *pstmt;

	MemoryContextSwitchTo(cxt);
	/* the caller's copy may live in the first transaction's memory */
	sql = pstrdup(sql);
	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	rs = linitial_node(RawStmt, raw);
	pstmt = makeNode(PlannedStmt);
	pstmt->commandType = CMD_UTILITY;
	pstmt->canSetTag = false;
	pstmt->utilityStmt = rs->stmt;
	pstmt->stmt_location = rs->stmt_location;
	pstmt->stmt_len = rs->stmt_len;

	PortalContext = cxt;
	debug_query_string = sql;
	pgstat_report_activity(STATE_RUNNING, sql);
	ProcessUtility(pstmt, sql, false, PROCESS_UTILITY_TOPLEVEL, NULL, NULL,
				   None_Receiver, NULL);
	debug_query_string = NULL;
	PortalContext = saved_portal;
	/* the transaction now current may be the statement's second one */
	MemoryContextSwitchTo(TopTransactionContext);
}

/*
 * lock_timeout for the statements that follow, across transactions, until
 * reset_lock_timeout() gives back the configured one (the worker sets it
 * at no other time, so a reload of lock_timeout still applies).
 */
static void
set_lock_timeout(int ms)
{
	char		value[32];

	/* no palloc: this runs outside any transaction too */
	snprintf(value, sizeof(value), "%d", ms);
	(void) set_config_option("lock_timeout", value,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET,
							 true, 0, false);
}

static void
reset_lock_timeout(void)
{
	(void) set_config_option("lock_timeout", NULL,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET,
							 true, 0, false);
}

/*
 * The security context of DETACH ... CONCURRENTLY: its first transaction
 * runs in a security-restricted operation, as every statement on a user's
 * table does (PostgreSQL evaluates the partition's CHECK constraints
 * there, and an owner's IMMUTABLE function in one would otherwise run
 * outside it, free to SET ROLE to the worker's superuser).  PostgreSQL
 * requires no security context when a transaction starts, so the commit
 * of that first transaction, inside the statement, leaves the restriction;
 * the second runs as the owner unrestricted.  It runs none of the owner's
 * code: it waits, moves catalog rows and checks the new CHECK constraint,
 * whose operators are the partition key's operator class (made by a
 * superuser); its event triggers are a superuser's, under the worker's
 * search_path = pg_catalog, pg_temp.
 */
static Oid	restricted_owner = InvalidOid;
static int	restricted_base_context;

static void
leave_restriction_at_commit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && OidIsValid(restricted_owner))
	{
		SetUserIdAndSecContext(restricted_owner, restricted_base_context);
		restricted_owner = InvalidOid;
	}
}

static void
enter_restriction(Oid owner, int base_context)
{
	restricted_owner = owner;
	restricted_base_context = base_context;
	RegisterXactCallback(leave_restriction_at_commit, NULL);
	SetUserIdAndSecContext(owner, base_context | SECURITY_RESTRICTED_OPERATION);
}

static void
forget_restriction(void)
{
	restricted_owner = InvalidOid;
	UnregisterXactCallback(leave_restriction_at_commit, NULL);
}

/* A row of sdp.maintenance_log in a transaction of its own (WARNING too when failed). */
static void
log_in_transaction(SdpDeferredDetach *d, TimestampTz started, const char *action,
				   const char *status, const char *message, const char *failure)
{
	MemoryContext callercxt = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (failure != NULL)
		sdp_maintenance_log_failure(d->parent, started, d->qpartition, action, status,
									message, failure,
									"retention of partition %s of table %s did not finish",
									d->qpartition, d->qparent);
	else
		sdp_maintenance_log_rel(d->parent, started, d->qpartition, action, status, message);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* the commit left TopMemoryContext current */
	MemoryContextSwitchTo(callercxt);
}

static bool
detach_pending(SdpDeferredDetach *d)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(d->partition), ObjectIdGetDatum(d->parent)};
	bool		pending;
	MemoryContext callercxt = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	pending = sdp_spi_exec("SELECT 1 FROM pg_catalog.pg_inherits "
						   "WHERE inhrelid = $1 AND inhparent = $2 AND inhdetachpending",
						   2, types, values, NULL) > 0;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(callercxt);
	return pending;
}

/* Is d->partition still a partition of d->parent (nothing else moved it)? */
static bool
still_attached(SdpDeferredDetach *d)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(d->partition), ObjectIdGetDatum(d->parent)};
	bool		attached;

	SPI_connect();
	attached = sdp_spi_exec("SELECT 1 FROM pg_catalog.pg_inherits "
							"WHERE inhrelid = $1 AND inhparent = $2 AND NOT inhdetachpending",
							2, types, values, NULL) > 0;
	SPI_finish();
	return attached;
}

/*
 * lock_timeout of the DETACH ... CONCURRENTLY statement: detach_wait_timeout
 * for its wait for older queries, which holds nothing a new query needs;
 * but a partition with a foreign key of the parent's gets its own action
 * triggers on the referenced table in the second transaction, whose SHARE
 * ROW EXCLUSIVE lock every writer of that table would queue behind while
 * it waits for a long writer there: then short_ms (the attempt's, see
 * sdp_lock_wait_ms()), and a wait not over within it leaves the detach to
 * FINALIZE at a later run.  In the attempt's first transaction.
 */
static int
statement_lock_timeout(SdpDeferredDetach *d, int short_ms)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(d->partition)};
	bool		has_fk;

	if (short_ms == 0 ||
		(sdp_detach_wait_timeout > 0 && sdp_detach_wait_timeout <= short_ms))
		return sdp_detach_wait_timeout;
	SPI_connect();
	has_fk = sdp_spi_exec("SELECT 1 FROM pg_catalog.pg_constraint "
						  "WHERE conrelid = $1 AND contype = 'f' AND conparentid <> 0",
						  1, types, values, NULL) > 0;
	SPI_finish();
	return has_fk ? short_ms : sdp_detach_wait_timeout;
}

typedef enum DetachAttempt
{
	ATTEMPT_DONE,
	ATTEMPT_GONE,				/* no longer attached: nothing to do */
	ATTEMPT_LOCK_BUSY,			/* the first locks not had: retry */
	ATTEMPT_FAILED
} DetachAttempt;

/*
 * One attempt: in a new transaction, the parent's then the partition's
 * SHARE UPDATE EXCLUSIVE lock within this attempt's timeout, then the
 * statement, which waits at most detach_wait_timeout for older queries
 * (see statement_lock_timeout()).
 * Caller outside any transaction.  *error gets a failure's message.
 */
static DetachAttempt
detach_attempt(SdpDeferredDetach *d, int attempt, MemoryContext cxt, char **error)
{
	Oid			saved_user;
	int			saved_context;
	int			short_ms = sdp_lock_wait_ms(attempt);
	volatile bool started_statement = false;
	volatile DetachAttempt result = ATTEMPT_DONE;

	GetUserIdAndSecContext(&saved_user, &saved_context);
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (!still_attached(d))
			result = ATTEMPT_GONE;
		else
		{
			set_lock_timeout(short_ms);
			LockRelationOid(d->parent, ShareUpdateExclusiveLock);
			LockRelationOid(d->partition, ShareUpdateExclusiveLock);
			set_lock_timeout(statement_lock_timeout(d, short_ms));
			started_statement = true;
			/* as the owner, restricted in the first transaction (above) */
			enter_restriction(d->owner, saved_context);
			run_top_level_utility(psprintf("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY",
										   d->qparent, d->qpartition), cxt);
			forget_restriction();
			SetUserIdAndSecContext(saved_user, saved_context);
		}
		if (ActiveSnapshotSet())
			PopActiveSnapshot();
		CommitTransactionCommand();
		reset_lock_timeout();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		forget_restriction();
		AbortCurrentTransaction();
		/* the statement's second transaction started as the owner */
		SetUserIdAndSecContext(saved_user, saved_context);
		debug_query_string = NULL;
		RESUME_INTERRUPTS();
		reset_lock_timeout();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !started_statement)
			ReThrowError(edata);
		*error = edata->message;
		result = !started_statement && edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE
			? ATTEMPT_LOCK_BUSY : ATTEMPT_FAILED;
	}
	PG_END_TRY();
	return result;
}

/* DROP TABLE of the detached partition, in a transaction of its own. */
static bool
drop_attempt(SdpDeferredDetach *d, int attempt, MemoryContext cxt, char **error)
{
	volatile bool ok = true;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		set_lock_timeout(sdp_lock_wait_ms(attempt));
		SPI_connect();
		LockRelationOid(d->partition, AccessExclusiveLock);
		sdp_spi_exec_as_owner(d->owner, psprintf("DROP TABLE %s", d->qpartition));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		reset_lock_timeout();
	}
	PG_CATCH();
	{
		ErrorData  *edata = sdp_abort_keeping_error(cxt);

		reset_lock_timeout();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		*error = edata->message;
		ok = false;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			*error = psprintf("!%s", edata->message);	/* not worth retrying */
	}
	PG_END_TRY();
	return ok;
}

/*
 * The background worker's retention of one partition: DETACH PARTITION ...
 * CONCURRENTLY as a top-level statement, its first locks taken with the
 * short lock attempts and backoff, then (retention_mode 'drop') DROP TABLE
 * likewise; every outcome logged.  Caller outside any transaction, in a
 * memory context that outlives this call.  Returns false on a failure.
 */
bool
sdp_partition_detach_deferred(SdpDeferredDetach *d, TimestampTz started)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(callercxt, "smart_dairy_perf detach",
											  ALLOCSET_DEFAULT_SIZES);
	int			attempts = sdp_lock_attempts();
	DetachAttempt result = ATTEMPT_FAILED;
	char	   *error = NULL;
	int			attempt;
	bool		ok = true;

	for (attempt = 0; attempt < attempts; attempt++)
	{
		if (attempt > 0)
			sdp_lock_retry_backoff(attempt - 1);
		result = detach_attempt(d, attempt, cxt, &error);
		MemoryContextSwitchTo(callercxt);
		if (result != ATTEMPT_LOCK_BUSY)
			break;
	}

	switch (result)
	{
		case ATTEMPT_GONE:
			break;
		case ATTEMPT_DONE:
			log_in_transaction(d, started, "detach partition", "ok",
							   psprintf("range %s ended before now() - retention; "
										"DETACH PARTITION CONCURRENTLY", d->range), NULL);
			break;
		case ATTEMPT_LOCK_BUSY:
			log_in_transaction(d, started, "detach partition", "skipped",
							   psprintf("%s (%s); DETACH PARTITION CONCURRENTLY is tried again at the next run",
										error, sdp_lock_attempts_text(attempts)), NULL);
			ok = false;
			break;
		case ATTEMPT_FAILED:
			if (detach_pending(d))
				log_in_transaction(d, started, "detach partition", "skipped",
								   psprintf("DETACH PARTITION CONCURRENTLY interrupted after its first transaction (%s); "
											"finished with FINALIZE at the next run", error), NULL);
			else
				log_in_transaction(d, started, "detach partition", "error", NULL, error);
			ok = false;
			break;
	}

	if (result == ATTEMPT_DONE && d->drop)
	{
		bool		dropped = false;

		for (attempt = 0; attempt < attempts && !dropped; attempt++)
		{
			if (attempt > 0)
				sdp_lock_retry_backoff(attempt - 1);
			dropped = drop_attempt(d, attempt, cxt, &error);
			MemoryContextSwitchTo(callercxt);
			if (!dropped && error[0] == '!')
				break;
		}
		if (dropped)
			log_in_transaction(d, started, "drop partition", "ok",
							   psprintf("range %s: detached concurrently, then dropped", d->range), NULL);
		else
		{
			log_in_transaction(d, started, "drop partition", "error",
							   psprintf("detached concurrently but not dropped: %s; it is a table of its own now, drop it by hand",
										error[0] == '!' ? error + 1 : error),
							   error[0] == '!' ? error + 1 : error);
			ok = false;
		}
	}
	MemoryContextSwitchTo(callercxt);
	MemoryContextDelete(cxt);
	return ok;
}
