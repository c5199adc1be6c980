/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *	  The periodic maintenance of one database, as the background worker
 *	  (maintenance_worker.c) and pg_cron run it, and sdp.run_maintenance().
 *	  Steps, in order:
 *	    1. due materialized-view refreshes (sdp.refresh_matviews(true));
 *	    2. partition maintenance (sdp.run_partition_maintenance());
 *	    3. a snapshot of the query statistics every
 *	       smart_dairy_perf.snapshot_interval, older automatic ones removed
 *	       after smart_dairy_perf.snapshot_retention;
 *	    4. log retention: rows of sdp.maintenance_log and of
 *	       sdp.matview_refresh_history older than
 *	       smart_dairy_perf.log_retention are deleted.
 *	  Every step isolates its own items (one view, one parent); a step that
 *	  fails as a whole is logged and the next step still runs.
 *
 *	  sdp.run_maintenance() runs in the caller's transaction, each step in
 *	  a subtransaction; partitions come after refreshes so that the
 *	  partition DDL's locks are held only until the commit that follows,
 *	  not across refreshes.  The worker commits after every step.
 *
 *	  Single flight: one lock per database (maintenance_lock.c, out of
 *	  reach of SQL's advisory lock functions), transaction-level in
 *	  sdp.run_maintenance() and session-level in the worker across its
 *	  transactions.  The two conflict, so the worker and a pg_cron job
 *	  never run at once: the one that finds the lock held logs "skipped".
 *
 *	  The worker runs the partition step one table per transaction
 *	  (sdp_maintenance_partition_step_is_per_table()), so a table's DDL
 *	  locks are released before the next table is touched.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

#include "maintenance.h"
#include "maintenance_lock.h"
#include "maintenance_log.h"
#include "run_as_owner.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_run_maintenance);

/*
 * A step is one statement returning (items failed, summary).  $1 is
 * smart_dairy_perf.log_retention, $2 snapshot_interval and $3
 * snapshot_retention, in seconds.
 */
typedef struct MaintenanceStep
{
	const char *name;
	const char *sql;
} MaintenanceStep;

static const MaintenanceStep steps[] = {
	{"refresh materialized views",
		"SELECT count(*) FILTER (WHERE action = 'error'), "
		"format('%s refreshed, %s unchanged, %s not due, %s failed', "
		"count(*) FILTER (WHERE action = 'refreshed'), "
		"count(*) FILTER (WHERE action = 'unchanged'), "
		"count(*) FILTER (WHERE action = 'not due'), "
		"count(*) FILTER (WHERE action = 'error')) "
	"FROM sdp.refresh_matviews(true)"},
	{"partition maintenance",
		"SELECT count(*) FILTER (WHERE status = 'error'), "
		"format('tables: %s, failed: %s', count(DISTINCT parent), "
		"count(DISTINCT parent) FILTER (WHERE status = 'error')) "
	"FROM sdp.run_partition_maintenance()"},
	{"snapshot",
		"WITH old AS (DELETE FROM sdp.snapshots WHERE automatic AND $3 > 0 "
		"             AND taken_at < now() - $3 * interval '1 second' RETURNING 1) "
		"SELECT 0::bigint, CASE "
		"WHEN $2 <= 0 THEN 'snapshot_interval = 0: none taken' "
		"WHEN pg_catalog.current_setting('smart_dairy_perf.enabled', true) IS NULL "
		"THEN 'profiler not loaded: none taken' "
		"WHEN EXISTS (SELECT 1 FROM sdp.snapshots WHERE automatic "
		"             AND taken_at > now() - $2 * interval '1 second') THEN 'not due' "
		"ELSE 'taken #' || sdp.snapshot('auto ' || to_char(clock_timestamp(), "
		"'YYYY-MM-DD HH24:MI:SS.US'), true) END "
	"|| format(', %s old removed', (SELECT count(*) FROM old))"},
	{"log retention",
		"WITH l AS (DELETE FROM sdp.maintenance_log "
		"           WHERE $1 >= 0 AND started < now() - $1 * interval '1 second' RETURNING 1), "
		"     h AS (DELETE FROM sdp.matview_refresh_history "
		"           WHERE $1 >= 0 AND started < now() - $1 * interval '1 second' RETURNING 1) "
		"SELECT 0::bigint, CASE WHEN $1 < 0 THEN 'log_retention = -1: nothing removed' "
		"ELSE format('removed %s log rows and %s refresh history rows', "
	"(SELECT count(*) FROM l), (SELECT count(*) FROM h)) END"},
};

/* the step the worker runs one table per transaction */
#define PARTITION_STEP 1

/* Which step is partition maintenance (the worker runs it table by table).  No lock, no SPI. */
int
sdp_maintenance_partition_step(void)
{
	Assert(strcmp(steps[PARTITION_STEP].name, "partition maintenance") == 0);
	return PARTITION_STEP;
}

/* Number of maintenance steps.  No lock, no SPI. */
int
sdp_maintenance_step_count(void)
{
	return lengthof(steps);
}

/* The name a step is logged under (static storage).  No lock, no SPI. */
const char *
sdp_maintenance_step_name(int step)
{
	return steps[step].name;
}

static char *
database_object(void)
{
	return psprintf("database %s", get_database_name(MyDatabaseId));
}

/*
 * Run one step and log its outcome.  Caller connected to SPI, holding the
 * run's lock (maintenance_lock.c); result->message is in the caller's
 * (SPI procedure) memory context.
 */
void
sdp_maintenance_run_step(int step, SdpStepResult *result)
{
	TimestampTz started = GetCurrentTimestamp();
	Oid			types[3] = {INT4OID, INT4OID, INT4OID};
	Datum		values[3] = {Int32GetDatum(sdp_log_retention),
		Int32GetDatum(sdp_snapshot_interval),
	Int32GetDatum(sdp_snapshot_retention)};
	bool		isnull;
	int64		failed;
	int			nestlevel = sdp_restrict_search_path();

	sdp_spi_exec(steps[step].sql, 3, types, values, NULL);
	failed = DatumGetInt64(sdp_spi_datum(0, 1, &isnull));
	result->message = pstrdup(sdp_spi_value(0, 2));
	AtEOXact_GUC(true, nestlevel);
	result->status = failed > 0 ? "error" : "ok";
	result->duration_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	sdp_maintenance_log(started, database_object(), steps[step].name,
						result->status, result->message);
}

/*
 * A step that failed as a whole: its log row, then a WARNING with the
 * error as detail.  Caller connected to SPI, in a transaction other than
 * the one (or the subtransaction) that failed.
 */
void
sdp_maintenance_step_failed(int step, TimestampTz started, const char *message)
{
	sdp_maintenance_log_failure(InvalidOid, started, database_object(),
								steps[step].name, "error", NULL, message,
								"maintenance step \"%s\" in database \"%s\" failed",
								steps[step].name, get_database_name(MyDatabaseId));
}

/* Log a step's outcome, as the caller (connected to SPI). */
void
sdp_maintenance_step_logged(int step, TimestampTz started, const char *status,
							const char *message)
{
	sdp_maintenance_log(started, database_object(), steps[step].name, status,
						message);
}

/* Log a run that found another one in progress; returns the reason (static).  Caller connected to SPI. */
const char *
sdp_maintenance_skipped(void)
{
	const char *msg = "another maintenance run is in progress in this database";

	sdp_maintenance_log(GetCurrentTimestamp(), database_object(), "maintenance",
						"skipped", msg);
	return msg;
}

typedef struct StepArgs
{
	int			step;
	SdpStepResult result;
} StepArgs;

static void
run_step_isolated(void *arg)
{
	StepArgs   *a = arg;

	sdp_maintenance_run_step(a->step, &a->result);
}

static void
step_row(ReturnSetInfo *rsinfo, const char *step, const char *status,
		 const char *message, double ms)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, message == NULL, false};

	values[0] = CStringGetTextDatum(step);
	values[1] = CStringGetTextDatum(status);
	values[2] = message ? CStringGetTextDatum(message) : (Datum) 0;
	values[3] = Float8GetDatum(ms);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* sdp.run_maintenance(): every step, in this transaction */
Datum
sdp_run_maintenance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	MemoryContext callercxt = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("maintenance cannot run while the server is in recovery"),
				 errhint("Run it on the primary; a standby receives its results by replication.")));

	SPI_connect();
	if (!sdp_lock_maintenance_run(false, false))
	{
		step_row(rsinfo, "maintenance", "skipped", sdp_maintenance_skipped(), 0);
		SPI_finish();
		MemoryContextSwitchTo(callercxt);
		return (Datum) 0;
	}

	for (int i = 0; i < lengthof(steps); i++)
	{
		StepArgs	args = {i};
		TimestampTz started = GetCurrentTimestamp();
		ErrorData  *edata = sdp_run_in_subtransaction(run_step_isolated, &args);

		if (edata == NULL)
		{
			step_row(rsinfo, steps[i].name, args.result.status, args.result.message,
					 args.result.duration_ms);
			continue;
		}
		sdp_maintenance_step_failed(i, started, edata->message);
		step_row(rsinfo, steps[i].name, "error", edata->message,
				 (double) (GetCurrentTimestamp() - started) / 1000.0);
		FreeErrorData(edata);
	}

	SPI_finish();
	MemoryContextSwitchTo(callercxt);
	return (Datum) 0;
}
