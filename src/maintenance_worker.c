/*-------------------------------------------------------------------------
 *
 * maintenance_worker.c
 *	  Background maintenance: a launcher worker, registered when the
 *	  library is preloaded, keeps one maintenance worker per database named
 *	  in smart_dairy_perf.maintenance_databases.  Each maintenance worker
 *	  connects as smart_dairy_perf.maintenance_role (the bootstrap superuser
 *	  when empty), runs the steps of maintenance.c every
 *	  smart_dairy_perf.maintenance_interval, each in its own transaction,
 *	  and sleeps on its latch in between.
 *
 *	  Robustness rules:
 *	  - an error in a step is caught, written to the server log and to
 *	    sdp.maintenance_log, and the next step runs; the worker never exits
 *	    because of one;
 *	  - a worker that exits anyway (database or role missing) is started
 *	    again after a back-off that doubles up to an hour: no crash loop.
 *	    The back-off lives in shared memory and, across a crash restart
 *	    (which makes shared memory anew), in the postmaster's memory: a
 *	    worker that was in the middle of a run when the server crashed
 *	    counts as failed, so a row that crashes maintenance cannot make a
 *	    crash-restart loop of the whole cluster;
 *	  - a database without the extension (or with 1.0) is skipped with one
 *	    LOG line when that is first seen, not one per interval, and the
 *	    worker disconnects until the next interval, so the database can be
 *	    dropped or used as a template;
 *	  - the worker's session runs with search_path = pg_catalog, pg_temp;
 *	    what it does on a table runs as the table's owner (see
 *	    run_as_owner.c);
 *	  - partition maintenance runs one table per transaction, so one
 *	    table's DDL locks are released before the next table is touched;
 *	    retention then runs DETACH PARTITION ... CONCURRENTLY for that
 *	    table outside any transaction block (partition_detach.c): the
 *	    worker is the one caller that can;
 *	  - SIGHUP reloads the settings (a new interval applies at once, a new
 *	    role restarts the worker, the launcher follows the database list);
 *	    SIGTERM ends a worker at its next interrupt check, also inside a
 *	    refresh; the launcher starts only once recovery has finished, so a
 *	    hot standby runs nothing;
 *	  - after a crash the postmaster reinitialises shared memory and
 *	    restarts the launcher, which starts the workers again.
 *
 *	  Shared memory holds one slot per database: the running worker's pid
 *	  (a second worker for the same database exits at once, which also
 *	  covers a restarted launcher) and what it did last, shown by
 *	  sdp.maintenance_workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "maintenance.h"
#include "maintenance_worker.h"
#include "own_code.h"
#include "maintenance_lock.h"
#include "partition_detach.h"
#include "partition_manager.h"
#include "run_as_owner.h"
#include "profiler_store.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_maintenance_workers);

PGDLLEXPORT void sdp_launcher_main(Datum arg);
PGDLLEXPORT void sdp_maintenance_worker_main(Datum arg);

#define SDP_MAX_MAINTENANCE_DATABASES	16
#define SDP_LAUNCHER_POLL_MS			10000
#define SDP_MAX_BACKOFF_MS				(3600 * 1000L)

typedef struct WorkerSlot
{
	char		dbname[NAMEDATALEN];	/* "" when the slot is free */
	pid_t		pid;			/* its running worker, 0 when none */
	bool		restart_now;	/* the worker exited to take a new role */
	bool		completed_run;	/* the worker finished at least one run */
	bool		extension_wait; /* it exited: no usable extension there */
	int			ext_state_logged;	/* ExtensionState last reported */
	int			failures;		/* exits without a completed run, in a row */
	TimestampTz not_before;		/* the launcher's back-off */
	TimestampTz last_run_started;
	TimestampTz last_run_finished;
	TimestampTz next_run;
	char		last_status[48];
} WorkerSlot;

typedef struct WorkerShared
{
	slock_t		mutex;
	WorkerSlot	slots[SDP_MAX_MAINTENANCE_DATABASES];
} WorkerShared;

static WorkerShared *workers = NULL;

/*
 * The postmaster's copy of the slots, taken when shared memory goes away
 * (clean shutdown or crash restart) and put back when it is made anew.
 */
static WorkerShared saved_workers;
static bool have_saved_workers = false;

static long
backoff_ms(int failures)
{
	long		backoff = (long) sdp_maintenance_interval * 1000L;

	for (int i = 1; i < failures && backoff < SDP_MAX_BACKOFF_MS; i++)
		backoff *= 2;
	return Min(backoff, SDP_MAX_BACKOFF_MS);
}

/*
 * on_shmem_exit in the postmaster: keep the slots.  On a crash restart
 * (code != 0) a worker caught in the middle of a run is counted as failed.
 */
static void
save_worker_slots(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();

	memcpy(&saved_workers, workers, sizeof(WorkerShared));
	have_saved_workers = true;
	for (int s = 0; s < SDP_MAX_MAINTENANCE_DATABASES; s++)
	{
		WorkerSlot *slot = &saved_workers.slots[s];

		if (code != 0 && slot->pid != 0 &&
			slot->last_run_started > slot->last_run_finished)
		{
			slot->failures++;
			slot->not_before = TimestampTzPlusMilliseconds(now, backoff_ms(slot->failures));
		}
		slot->pid = 0;
		slot->restart_now = false;
		slot->completed_run = false;
	}
}

/* Shared memory of the worker slots (fixed size); shmem_request_hook. */
Size
sdp_workers_shmem_size(void)
{
	return sizeof(WorkerShared);
}

/*
 * Attach to (or create) the worker slots, restoring the back-off kept
 * across a crash restart.  Caller holds AddinShmemInitLock.
 */
void
sdp_workers_shmem_startup(void)
{
	bool		found;

	workers = ShmemInitStruct("smart_dairy_perf maintenance workers",
							  sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(workers, 0, sizeof(WorkerShared));
		if (have_saved_workers)
			memcpy(workers->slots, saved_workers.slots, sizeof(workers->slots));
		SpinLockInit(&workers->mutex);
	}
	if (!IsUnderPostmaster)
		on_shmem_exit(save_worker_slots, (Datum) 0);
}

/* Register the launcher worker; from _PG_init while preloading only. */
void
sdp_workers_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	/* not on a hot standby: started at promotion */
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "smart_dairy_perf");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sdp_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "smart_dairy_perf launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "smart_dairy_perf launcher");
	RegisterBackgroundWorker(&worker);
}

static void
set_slot_status(int slot, const char *status)
{
	SpinLockAcquire(&workers->mutex);
	strlcpy(workers->slots[slot].last_status, status,
			sizeof(workers->slots[slot].last_status));
	SpinLockRelease(&workers->mutex);
}

/* ----------------------------------------------------------------------
 * Launcher
 * ----------------------------------------------------------------------
 */

/* The configured databases; warns once per list that is too long. */
static List *
wanted_databases(void)
{
	static char *warned_for = NULL;
	char	   *raw = pstrdup(sdp_maintenance_databases);
	List	   *names = NIL;

	if (!SplitGUCList(raw, ',', &names))
	{
		ereport(LOG,
				(errmsg("invalid list syntax in parameter \"smart_dairy_perf.maintenance_databases\"")));
		return NIL;
	}
	if (list_length(names) > SDP_MAX_MAINTENANCE_DATABASES &&
		(warned_for == NULL || strcmp(warned_for, sdp_maintenance_databases) != 0))
	{
		ereport(WARNING,
				(errmsg("only the first %d databases of smart_dairy_perf.maintenance_databases are maintained",
						SDP_MAX_MAINTENANCE_DATABASES)));
		warned_for = MemoryContextStrdup(TopMemoryContext, sdp_maintenance_databases);
	}
	return list_truncate(names, SDP_MAX_MAINTENANCE_DATABASES);
}

static bool
list_has_name(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

static BackgroundWorkerHandle *
start_worker(int slot, const char *dbname)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext oldcxt;
	bool		registered;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher restarts it */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "smart_dairy_perf");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sdp_maintenance_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "smart_dairy_perf maintenance %s", dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, "smart_dairy_perf maintenance");
	worker.bgw_main_arg = Int32GetDatum(slot);
	/* database and role names travel in bgw_extra: NAMEDATALEN each */
	StaticAssertStmt(2 * NAMEDATALEN <= BGW_EXTRALEN, "bgw_extra too small");
	strlcpy(worker.bgw_extra, dbname, NAMEDATALEN);
	strlcpy(worker.bgw_extra + NAMEDATALEN, sdp_maintenance_role, NAMEDATALEN);
	worker.bgw_notify_pid = MyProcPid;

	/* the handle outlives the loop's memory context, which is reset */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(oldcxt);
	if (!registered)
	{
		ereport(LOG,
				(errmsg("could not start the maintenance worker for database \"%s\"",
						dbname),
				 errhint("Raise max_worker_processes.")));
		return NULL;
	}
	return handle;
}

void
sdp_launcher_main(Datum arg)
{
	BackgroundWorkerHandle *handles[SDP_MAX_MAINTENANCE_DATABASES] = {0};
	MemoryContext loopcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	loopcxt = AllocSetContextCreate(TopMemoryContext, "smart_dairy_perf launcher",
									ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		List	   *names;
		ListCell   *lc;
		TimestampTz now = GetCurrentTimestamp();
		long		timeout = SDP_LAUNCHER_POLL_MS;
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loopcxt);
		oldcxt = MemoryContextSwitchTo(loopcxt);
		names = wanted_databases();

		for (int s = 0; s < SDP_MAX_MAINTENANCE_DATABASES; s++)
		{
			WorkerSlot *slot = &workers->slots[s];
			pid_t		pid;
			bool		wanted;

			/* notice workers that have exited */
			if (handles[s] != NULL &&
				GetBackgroundWorkerPid(handles[s], &pid) == BGWH_STOPPED)
			{
				pfree(handles[s]);
				handles[s] = NULL;
				SpinLockAcquire(&workers->mutex);
				if (slot->restart_now)
					slot->not_before = now;
				else if (slot->extension_wait)
				{
					/* not a failure: look again at the next interval */
					slot->failures = 0;
					slot->not_before = TimestampTzPlusMilliseconds(now,
																   (long) sdp_maintenance_interval * 1000L);
				}
				else
				{
					slot->failures = slot->completed_run ? 0 : slot->failures + 1;
					slot->not_before = TimestampTzPlusMilliseconds(now,
																   backoff_ms(slot->failures));
				}
				slot->restart_now = false;
				slot->completed_run = false;
				slot->extension_wait = false;
				SpinLockRelease(&workers->mutex);
			}

			SpinLockAcquire(&workers->mutex);
			wanted = slot->dbname[0] != '\0' && list_has_name(names, slot->dbname);
			if (slot->dbname[0] != '\0' && !wanted && slot->pid == 0 && handles[s] == NULL)
				slot->dbname[0] = '\0';		/* dropped from the list: free */
			SpinLockRelease(&workers->mutex);
			if (slot->dbname[0] != '\0' && !wanted && handles[s] != NULL)
				TerminateBackgroundWorker(handles[s]);
		}

		/* give each listed database a slot, and a worker when it has none */
		foreach(lc, names)
		{
			const char *dbname = lfirst(lc);
			int			s = -1;
			bool		running;
			TimestampTz not_before = 0;

			SpinLockAcquire(&workers->mutex);
			for (int i = 0; i < SDP_MAX_MAINTENANCE_DATABASES && s < 0; i++)
				if (strcmp(workers->slots[i].dbname, dbname) == 0)
					s = i;
			for (int i = 0; i < SDP_MAX_MAINTENANCE_DATABASES && s < 0; i++)
				if (workers->slots[i].dbname[0] == '\0')
				{
					s = i;
					memset(&workers->slots[i], 0, sizeof(WorkerSlot));
					strlcpy(workers->slots[i].dbname, dbname, NAMEDATALEN);
				}
			running = s >= 0 && workers->slots[s].pid != 0;
			if (s >= 0)
				not_before = workers->slots[s].not_before;
			SpinLockRelease(&workers->mutex);
			if (s < 0 || running || handles[s] != NULL)
				continue;
			if (now >= not_before)
				handles[s] = start_worker(s, dbname);
			else
				timeout = Min(timeout, TimestampDifferenceMilliseconds(now, not_before));
		}
		MemoryContextSwitchTo(oldcxt);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------------
 * Maintenance worker
 * ----------------------------------------------------------------------
 */

static int	my_slot = -1;

static void
release_slot(int code, Datum arg)
{
	SpinLockAcquire(&workers->mutex);
	if (workers->slots[my_slot].pid == MyProcPid)
		workers->slots[my_slot].pid = 0;
	SpinLockRelease(&workers->mutex);
}

/* Claim the slot; false when another worker already serves the database. */
static bool
claim_slot(int slot, const char *dbname)
{
	bool		claimed;

	SpinLockAcquire(&workers->mutex);
	claimed = strcmp(workers->slots[slot].dbname, dbname) == 0 &&
		workers->slots[slot].pid == 0;
	if (claimed)
		workers->slots[slot].pid = MyProcPid;
	SpinLockRelease(&workers->mutex);
	return claimed;
}

typedef enum ExtensionState
{
	EXT_READY,
	EXT_MISSING,
	EXT_TOO_OLD
} ExtensionState;

static ExtensionState
extension_state(void)
{
	char	   *version;
	ExtensionState state;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	version = sdp_spi_scalar_text("SELECT extversion FROM pg_catalog.pg_extension "
								  "WHERE extname = 'smart_dairy_perf'", 0, NULL, NULL);
	/* the library logs and checks configuration with columns of 1.3 */
	state = version == NULL ? EXT_MISSING :
		(strcmp(version, "1.0") == 0 || strcmp(version, "1.1") == 0 ||
		 strcmp(version, "1.2") == 0) ? EXT_TOO_OLD : EXT_READY;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return state;
}

/* Run fn in a transaction of its own, connected to SPI. */
static void
in_transaction(void (*fn) (void *arg), void *arg)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	fn(arg);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

typedef struct StepCall
{
	int			step;
	TimestampTz started;
	SdpStepResult result;
	const char *error;
} StepCall;

static void
run_step(void *arg)
{
	StepCall   *call = arg;

	pgstat_report_activity(STATE_RUNNING, sdp_maintenance_step_name(call->step));
	sdp_maintenance_run_step(call->step, &call->result);
}

static void
log_step_failure(void *arg)
{
	StepCall   *call = arg;

	sdp_maintenance_step_failed(call->step, call->started, call->error);
}

static void
log_skipped(void *arg)
{
	(void) sdp_maintenance_skipped();
}

/*
 * One step in its own transaction.  An error is reported to the server
 * log, the transaction rolled back, and the failure logged (with a
 * WARNING) in a new one.
 */
static bool
run_step_in_transaction(int step, MemoryContext runcxt)
{
	StepCall	call = {step, GetCurrentTimestamp()};
	volatile bool ok = true;

	PG_TRY();
	{
		in_transaction(run_step, &call);
		ok = strcmp(call.result.status, "ok") == 0;
	}
	PG_CATCH();
	{
		ErrorData  *edata = sdp_abort_keeping_error(runcxt);


		/* logged and reported as a WARNING in a transaction of its own */
		call.error = edata->message;
		in_transaction(log_step_failure, &call);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

typedef struct PartitionStepState
{
	MemoryContext cxt;
	int			nparents;
	Oid		   *parents;
	char	  **names;
	int			current;
	int			failed;
	List	   *deferred;		/* SdpDeferredDetach of the current table */
} PartitionStepState;

static void
list_partitioned_tables(void *arg)
{
	PartitionStepState *st = arg;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	pgstat_report_activity(STATE_RUNNING, "partition maintenance");
	st->nparents = sdp_partition_configured_parents(&st->parents, &st->names);
	MemoryContextSwitchTo(old);
}

static void
maintain_one_table(void *arg)
{
	PartitionStepState *st = arg;

	if (!sdp_partition_maintain_one(st->parents[st->current],
									st->names[st->current], NULL,
									&st->deferred, st->cxt))
		st->failed++;
}

typedef struct StepSummary
{
	int			step;
	TimestampTz started;
	const char *status;
	const char *message;
} StepSummary;

static void
log_step_summary(void *arg)
{
	StepSummary *sum = arg;

	sdp_maintenance_step_logged(sum->step, sum->started, sum->status, sum->message);
}

/*
 * Run fn in a transaction of its own; an error is reported to the server
 * log as a WARNING with message warning (complete, formed by the caller)
 * and the error as detail, and returned (copied into cxt), the transaction
 * rolled back.  NULL when fn succeeded.
 */
static char *
in_transaction_caught(void (*fn) (void *arg), void *arg, const char *warning,
					  MemoryContext cxt)
{
	char	   *volatile message = NULL;

	PG_TRY();
	{
		in_transaction(fn, arg);
	}
	PG_CATCH();
	{
		ErrorData  *edata = sdp_abort_keeping_error(cxt);

		ereport(WARNING,
				(errmsg_internal("%s", warning),
				 errdetail("%s", edata->message)));
		message = edata->message;
	}
	PG_END_TRY();
	return message;
}

/*
 * One partition's DETACH ... CONCURRENTLY (partition_detach.c, which logs
 * its outcomes); an error escaping it (its log row could not be written)
 * is reported as a WARNING and counted, the worker goes on.  Outside any
 * transaction.
 */
static bool
detach_caught(SdpDeferredDetach *d, TimestampTz started, MemoryContext cxt)
{
	volatile bool ok = false;

	PG_TRY();
	{
		ok = sdp_partition_detach_deferred(d, started);
	}
	PG_CATCH();
	{
		ErrorData  *edata = sdp_abort_keeping_error(cxt);

		ereport(WARNING,
				(errmsg("retention of partition %s of table %s in database \"%s\" failed",
						d->qpartition, d->qparent, MyBgworkerEntry->bgw_extra),
				 errdetail("%s", edata->message)));
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return ok;
}

/*
 * The partition step, one table per transaction: the list in one, then
 * each table in its own (and its concurrent detaches after it), then the
 * step's summary in the log.
 */
static bool
run_partition_step(MemoryContext runcxt)
{
	PartitionStepState st = {runcxt, 0, NULL, NULL, 0, 0, NIL};
	StepSummary sum = {sdp_maintenance_partition_step(), GetCurrentTimestamp()};
	char	   *error;

	error = in_transaction_caught(list_partitioned_tables, &st,
								  psprintf("could not list the partitioned tables of database \"%s\"",
										   MyBgworkerEntry->bgw_extra),
								  runcxt);
	for (st.current = 0; error == NULL && st.current < st.nparents; st.current++)
	{
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		st.deferred = NIL;
		if (in_transaction_caught(maintain_one_table, &st,
								  psprintf("partition maintenance of table \"%s\" in database \"%s\" failed",
										   st.names[st.current], MyBgworkerEntry->bgw_extra),
								  runcxt) != NULL)
		{
			st.failed++;
			continue;
		}
		/* retention outside that transaction: DETACH ... CONCURRENTLY */
		MemoryContextSwitchTo(runcxt);
		foreach(lc, st.deferred)
		{
			CHECK_FOR_INTERRUPTS();
			if (!detach_caught(lfirst(lc), sum.started, runcxt))
				st.failed++;
		}
	}
	sum.status = error != NULL || st.failed > 0 ? "error" : "ok";
	sum.message = error != NULL ? error :
		psprintf("tables: %d, failed: %d", st.nparents, st.failed);
	(void) in_transaction_caught(log_step_summary, &sum,
								 psprintf("could not log the partition step of database \"%s\"",
										  MyBgworkerEntry->bgw_extra),
								 runcxt);
	return error == NULL && st.failed == 0;
}

static void
run_maintenance_once(int slot, MemoryContext runcxt)
{
	ExtensionState last_state;
	ExtensionState state;
	bool		all_ok = true;
	bool		locked;

	state = extension_state();
	SpinLockAcquire(&workers->mutex);
	last_state = (ExtensionState) workers->slots[slot].ext_state_logged;
	workers->slots[slot].ext_state_logged = state;
	SpinLockRelease(&workers->mutex);
	if (state != EXT_READY)
	{
		/* one LOG line when this is first seen, not one per interval */
		if (state != last_state && state == EXT_MISSING)
			ereport(LOG,
					(errmsg("skipping maintenance of database \"%s\": the extension is not installed",
							MyBgworkerEntry->bgw_extra),
					 errhint("Run CREATE EXTENSION smart_dairy_perf in it, or remove it from smart_dairy_perf.maintenance_databases.")));
		else if (state != last_state)
			ereport(LOG,
					(errmsg("skipping maintenance of database \"%s\": the extension is older than 1.3",
							MyBgworkerEntry->bgw_extra),
					 errhint("Run ALTER EXTENSION smart_dairy_perf UPDATE in it.")));
		set_slot_status(slot, state == EXT_MISSING ? "extension not installed" :
						"extension too old");
		/* let go of the database (DROP DATABASE, CREATE DATABASE ... TEMPLATE) */
		SpinLockAcquire(&workers->mutex);
		workers->slots[slot].extension_wait = true;
		SpinLockRelease(&workers->mutex);
		proc_exit(0);
	}

	SpinLockAcquire(&workers->mutex);
	workers->slots[slot].last_run_started = GetCurrentTimestamp();
	SpinLockRelease(&workers->mutex);

	StartTransactionCommand();
	locked = sdp_lock_maintenance_run(true, false);
	CommitTransactionCommand();
	if (!locked)
	{
		in_transaction(log_skipped, NULL);
		set_slot_status(slot, "skipped");
		return;
	}

	for (int i = 0; i < sdp_maintenance_step_count(); i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i == sdp_maintenance_partition_step())
			all_ok &= run_partition_step(runcxt);
		else
			all_ok &= run_step_in_transaction(i, runcxt);
	}
	sdp_unlock_maintenance_run_session();
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(true);

	SpinLockAcquire(&workers->mutex);
	workers->slots[slot].last_run_finished = GetCurrentTimestamp();
	workers->slots[slot].completed_run = true;
	strlcpy(workers->slots[slot].last_status, all_ok ? "ok" : "error",
			sizeof(workers->slots[slot].last_status));
	SpinLockRelease(&workers->mutex);
}

void
sdp_maintenance_worker_main(Datum arg)
{
	char		dbname[NAMEDATALEN];
	char		role[NAMEDATALEN];
	MemoryContext runcxt;
	TimestampTz next_run;

	my_slot = DatumGetInt32(arg);
	strlcpy(dbname, MyBgworkerEntry->bgw_extra, NAMEDATALEN);
	strlcpy(role, MyBgworkerEntry->bgw_extra + NAMEDATALEN, NAMEDATALEN);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (!claim_slot(my_slot, dbname))
		proc_exit(0);
	before_shmem_exit(release_slot, (Datum) 0);

	BackgroundWorkerInitializeConnection(dbname, role[0] ? role : NULL, 0);
	/* every statement this worker runs is the extension's own (own_code.c) */
	sdp_own_code_mark_backend();
	/* the setting, not only pg_stat_activity: the profiler groups by it */
	SetConfigOption("application_name", "smart_dairy_perf maintenance",
					PGC_SUSET, PGC_S_OVERRIDE);
	/* no object another role planted on the search path is ever called */
	SetConfigOption("search_path", SDP_SAFE_SEARCH_PATH, PGC_SUSET, PGC_S_SESSION);
	runcxt = AllocSetContextCreate(TopMemoryContext, "smart_dairy_perf maintenance run",
								   ALLOCSET_DEFAULT_SIZES);

	next_run = GetCurrentTimestamp();
	for (;;)
	{
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			TimestampTz last;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(role, sdp_maintenance_role) != 0)
			{
				/* reconnecting as another role takes a new process */
				SpinLockAcquire(&workers->mutex);
				workers->slots[my_slot].restart_now = true;
				SpinLockRelease(&workers->mutex);
				proc_exit(0);
			}
			/* a new interval counts from the last run */
			SpinLockAcquire(&workers->mutex);
			last = workers->slots[my_slot].last_run_started;
			SpinLockRelease(&workers->mutex);
			if (last != 0)
			{
				next_run = TimestampTzPlusMilliseconds(last,
													   (int64) sdp_maintenance_interval * 1000);
				SpinLockAcquire(&workers->mutex);
				workers->slots[my_slot].next_run = next_run;
				SpinLockRelease(&workers->mutex);
			}
		}

		now = GetCurrentTimestamp();
		if (now >= next_run && !RecoveryInProgress())
		{
			MemoryContextReset(runcxt);
			run_maintenance_once(my_slot, runcxt);
			next_run = TimestampTzPlusMilliseconds(now,
												   (int64) sdp_maintenance_interval * 1000);
			SpinLockAcquire(&workers->mutex);
			workers->slots[my_slot].next_run = next_run;
			SpinLockRelease(&workers->mutex);
			continue;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(TimestampDifferenceMilliseconds(now, next_run), 1),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* sdp.maintenance_workers */
Datum
sdp_maintenance_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	WorkerSlot	copy[SDP_MAX_MAINTENANCE_DATABASES];

	sdp_store_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	SpinLockAcquire(&workers->mutex);
	memcpy(copy, workers->slots, sizeof(copy));
	SpinLockRelease(&workers->mutex);

	for (int s = 0; s < SDP_MAX_MAINTENANCE_DATABASES; s++)
	{
		WorkerSlot *slot = &copy[s];
		Datum		values[6];
		bool		nulls[6] = {false, slot->pid == 0, slot->last_run_started == 0,
		slot->last_run_finished == 0, slot->next_run == 0, slot->last_status[0] == '\0'};

		if (slot->dbname[0] == '\0')
			continue;
		values[0] = CStringGetTextDatum(slot->dbname);
		values[1] = Int32GetDatum(slot->pid);
		values[2] = TimestampTzGetDatum(slot->last_run_started);
		values[3] = TimestampTzGetDatum(slot->last_run_finished);
		values[4] = TimestampTzGetDatum(slot->next_run);
		values[5] = CStringGetTextDatum(slot->last_status);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
