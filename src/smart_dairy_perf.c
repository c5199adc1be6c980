/*-------------------------------------------------------------------------
 *
 * smart_dairy_perf.c
 *	  Module entry point.  _PG_init only registers: configuration variables,
 *	  the shared memory request and the hooks.  No work happens at load
 *	  time.
 *
 *	  The library must be in shared_preload_libraries: its shared memory is
 *	  sized once at server start.  Loaded any other way (for instance by
 *	  CREATE EXTENSION in a server started without it), _PG_init registers
 *	  only the partition manager's setting, and every profiler function
 *	  reports how to fix that (sdp_store_check_loaded()).
 *
 *	  Shared memory: the query table (profiler_store.c), the slow-query ring
 *	  (slow_queries.c), the N+1 patterns (nplus1_store.c) and the observed
 *	  predicates (predicate_store.c), with one LWLock tranche
 *	  "smart_dairy_perf" of four locks: [0] the query table, [1] the slow
 *	  ring, [2] the N+1 patterns, [3] the predicates; and the maintenance
 *	  workers' slots
 *	  (maintenance_worker.c, under their own spinlock).
 *
 *	  When preloaded, _PG_init also registers the maintenance launcher
 *	  background worker; it idles until smart_dairy_perf.maintenance_databases
 *	  names a database.
 *
 *	  Layers: this file and the hooks (profiler_hooks.c) are the top; the
 *	  stores (profiler_store.c, slow_queries.c, nplus1_store.c,
 *	  predicate_store.c) are the ground and never call one another.  So the
 *	  things that concern every store are done here, each store doing its
 *	  own part: the statistics file at the postmaster's start and clean exit
 *	  (the query entries, the N+1 patterns, the slow-query ring, the
 *	  observed predicates; stats_file.c frames them),
 *	  and sdp.reset().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "compat.h"
#include "maintenance_worker.h"
#include "nplus1.h"
#include "own_code.h"
#include "predicates.h"
#include "profiler_hooks.h"
#include "profiler_store.h"
#include "sdp_config.h"
#include "slow_queries.h"
#include "stats_file.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(sdp_reset_all);
PG_FUNCTION_INFO_V1(sdp_reset_query);

#define SDP_LWLOCKS 4

bool		sdp_enabled = true;
int			sdp_track = SDP_TRACK_TOP;
bool		sdp_track_utility = true;
bool		sdp_track_planning = false;
int			sdp_max_queries = 5000;
int			sdp_max_query_text = 1024;
bool		sdp_keep_samples = true;
int			sdp_slow_query_ms = 1000;
int			sdp_max_slow_queries = 200;
int			sdp_max_plan_json = 32768;
int			sdp_max_plan_text = 8192;
int			sdp_plan_capture = SDP_PLAN_SLOW;
double		sdp_plan_sample_rate = 0.1;
bool		sdp_save = true;
bool		sdp_nplus1_detection = true;
int			sdp_nplus1_min_repeats = 10;
int			sdp_nplus1_max_gap_ms = 100;
bool		sdp_nplus1_log = false;
bool		sdp_nplus1_include_internal = false;
/* read by sdp.report() through current_setting(); nothing in C uses it */
static bool sdp_report_own_statements = false;
int			sdp_max_nplus1_patterns = 200;
char	   *sdp_request_id = NULL;
char	   *sdp_partition_timezone = NULL;
int			sdp_partition_max_create = 500;
int			sdp_maintenance_lock_timeout = 20;
int			sdp_maintenance_lock_retries = 5;
int			sdp_detach_wait_timeout = 60000;
char	   *sdp_maintenance_databases = NULL;
char	   *sdp_maintenance_role = NULL;
int			sdp_maintenance_interval = 60;
int			sdp_log_retention = 30 * 24 * 3600;
int			sdp_advisor_min_table_pages = 32;
int			sdp_snapshot_interval = 3600;
int			sdp_snapshot_retention = 7 * 24 * 3600;
double		sdp_predicate_sample_rate = 0.01;
int			sdp_max_predicates = 1000;

static const struct config_enum_entry track_options[] = {
	{"none", SDP_TRACK_NONE, false},
	{"top", SDP_TRACK_TOP, false},
	{"all", SDP_TRACK_ALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry plan_capture_options[] = {
	{"off", SDP_PLAN_OFF, false},
	{"slow", SDP_PLAN_SLOW, false},
	{"slow_analyze", SDP_PLAN_SLOW_ANALYZE, false},
	{NULL, 0, false}
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

static void
sdp_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(add_size(add_size(add_size(sdp_store_shmem_size(),
													  sdp_slow_shmem_size()),
											 sdp_nplus1_shmem_size()),
									add_size(sdp_predicates_shmem_size(),
											 sdp_workers_shmem_size())));
	RequestNamedLWLockTranche("smart_dairy_perf", SDP_LWLOCKS);
}

/*
 * Did the server shut down cleanly, with a shutdown checkpoint?  An
 * immediate stop exits the postmaster with code 0 too, but leaves the
 * control file "in production": what it had counted is treated as after a
 * crash.  Reads pg_control; postmaster (or single-user backend) at exit.
 */
static bool
shut_down_cleanly(void)
{
	bool		crc_ok;
	ControlFileData *control = get_controlfile(DataDir, &crc_ok);
	bool		clean = crc_ok &&
		(control->state == DB_SHUTDOWNED ||
		 control->state == DB_SHUTDOWNED_IN_RECOVERY);

	pfree(control);
	return clean;
}

/*
 * The statistics file (stats_file.c): the header, then each store's part
 * in the file's order, written by the store itself.  At the postmaster's
 * clean exit only (on_shmem_exit), when no other process is attached: no
 * locks.
 */
static void
save_statistics(int code, Datum arg)
{
	SdpStatsHeader header;
	SdpStatsWriter w;

	/* after a crash or an immediate stop, or with saving off, leave nothing */
	if (code != 0 || !sdp_save || sdp_store == NULL || !shut_down_cleanly())
		return;

	memset(&header, 0, sizeof(header));
	sdp_store_describe(&header);
	header.npatterns = sdp_nplus1_count();
	if (!sdp_stats_file_create(&w, &header))
		return;
	if (!sdp_store_save(&w) || !sdp_nplus1_save(&w) || !sdp_slow_save(&w) ||
		!sdp_predicates_save(&w))
	{
		sdp_stats_file_abandon(&w);
		return;
	}
	sdp_stats_file_finish(&w);
}

/*
 * Read the file back when the postmaster creates shared memory: every
 * store's part is checked first, then the same code loads it.  A file that
 * fails any check is ignored whole (one LOG line).  No locks: nobody else
 * is attached yet.
 */
static void
load_statistics(void)
{
	SdpStatsHeader expected;
	SdpStatsHeader header;
	SdpStatsReader reader;
	const char *problem = NULL;
	int64		nentries = 0;
	int64		npatterns = 0;
	int64		nslow = 0;
	int64		npredicates = 0;

	memset(&expected, 0, sizeof(expected));
	sdp_store_describe(&expected);
	if (!sdp_stats_file_open(&reader, &header, &expected))
		return;

	for (int apply = 0; apply <= 1 && problem == NULL; apply++)
	{
		sdp_stats_file_rewind(&reader);
		problem = sdp_store_load(&reader, &header, apply, &nentries);
		if (problem == NULL)
			problem = sdp_nplus1_load(&reader, header.npatterns, apply,
									  &npatterns);
		if (problem == NULL)
			problem = sdp_slow_load(&reader, apply, &nslow);
		if (problem == NULL)
			problem = sdp_predicates_load(&reader, apply, &npredicates);
		if (problem == NULL)
			problem = sdp_stats_file_check_end(&reader);
		Assert(!apply || problem == NULL);
	}
	sdp_stats_file_close(&reader, problem);
	if (problem == NULL)
		ereport(LOG,
				(errmsg("restored statistics of %lld queries and %lld N+1 patterns, %lld slow queries, %lld observed predicates",
						(long long) nentries, (long long) npatterns,
						(long long) nslow, (long long) npredicates)));
}

static void
sdp_shmem_startup(void)
{
	bool		first_attach;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	sdp_store_shmem_startup();
	sdp_slow_shmem_startup();
	sdp_nplus1_shmem_startup();
	sdp_predicates_shmem_startup();
	sdp_workers_shmem_startup();
	LWLockRelease(AddinShmemInitLock);

	/*
	 * The postmaster (or a single-user backend) creates shared memory: it
	 * restores the saved statistics and saves them when it exits.
	 */
	first_attach = !IsUnderPostmaster;
	if (first_attach)
	{
		load_statistics();
		on_shmem_exit(save_statistics, (Datum) 0);
	}
}

static void
define_gucs(void)
{
	DefineCustomBoolVariable("smart_dairy_perf.enabled",
							 "Collect query statistics.",
							 NULL, &sdp_enabled, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("smart_dairy_perf.track",
							 "Which statements are profiled: none, top (sent by clients) or all (also inside functions).",
							 NULL, &sdp_track, SDP_TRACK_TOP, track_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.track_utility",
							 "Profile utility statements (DDL, VACUUM, COPY, CALL, SET, ...) too.",
							 "PREPARE, EXECUTE and DEALLOCATE are not counted: the prepared statement's executions are.",
							 &sdp_track_utility, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.track_planning",
							 "Count planning and its time as well.",
							 NULL, &sdp_track_planning, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_queries",
							"Number of query statistics entries kept in shared memory.",
							NULL, &sdp_max_queries, 5000, 100, INT_MAX / 2,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_query_text",
							"Longest normalized query text kept, in bytes.",
							NULL, &sdp_max_query_text, 1024, 64, 65536,
							PGC_POSTMASTER, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.query_samples",
							 "Keep one text of each query shape with its real constants (sdp.query_samples, the index advisor).",
							 "Off: new shapes keep none, and the samples kept before are neither shown nor saved.",
							 &sdp_keep_samples, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.slow_query_ms",
							"Executions at least this long are kept in sdp.slow_queries; -1 disables.",
							NULL, &sdp_slow_query_ms, 1000, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_slow_queries",
							"Number of slow executions kept in shared memory.",
							NULL, &sdp_max_slow_queries, 200, 0, 100000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_plan_text",
							"Longest plan text kept for a slow execution, in bytes.",
							NULL, &sdp_max_plan_text, 8192, 256, 1048576,
							PGC_POSTMASTER, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_plan_json",
							"Longest structured (JSON) plan kept per slow execution sampled with actual rows; 0 keeps none.",
							"The findings of sdp.slow_query_advice read it; a longer plan is not kept.",
							&sdp_max_plan_json, 32768, 0, 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomEnumVariable("smart_dairy_perf.plan_capture",
							 "Plans kept with slow executions: off, slow (estimates) or slow_analyze (actual rows, sampled).",
							 NULL, &sdp_plan_capture, SDP_PLAN_SLOW,
							 plan_capture_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("smart_dairy_perf.plan_sample_rate",
							 "Fraction of statements instrumented for actual row counts when plan_capture is slow_analyze.",
							 NULL, &sdp_plan_sample_rate, 0.1, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.save",
							 "Save query statistics across server shutdowns.",
							 NULL, &sdp_save, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("smart_dairy_perf.nplus1_detection",
							 "Detect N+1 query loops.",
							 NULL, &sdp_nplus1_detection, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.nplus1_min_repeats",
							"Consecutive executions of one query shape in one unit of work that make an N+1 burst.",
							NULL, &sdp_nplus1_min_repeats, 10, 2, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.nplus1_max_gap_ms",
							"For autocommit clients, the longest pause between statements of one unit of work.",
							NULL, &sdp_nplus1_max_gap_ms, 100, 0, 3600000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.nplus1_log",
							 "Write a LOG line the first time each N+1 pattern is seen.",
							 NULL, &sdp_nplus1_log, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.nplus1_include_internal",
							 "Also report N+1 loops of PostgreSQL's foreign-key checks and of smart_dairy_perf's own code.",
							 NULL, &sdp_nplus1_include_internal, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("smart_dairy_perf.report_own_statements",
							 "Show the extension's own statements among the findings of sdp.report().",
							 NULL, &sdp_report_own_statements, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_nplus1_patterns",
							"Number of N+1 patterns kept in shared memory.",
							NULL, &sdp_max_nplus1_patterns, 200, 10, 100000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("smart_dairy_perf.request_id",
							   "Identifier of the application request the session is serving; set it with SET LOCAL for exact N+1 grouping.",
							   NULL, &sdp_request_id, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("smart_dairy_perf.advisor_min_table_pages",
							"Tables smaller than this get no index recommendation.",
							NULL, &sdp_advisor_min_table_pages, 32, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_BLOCKS, NULL, NULL, NULL);
	DefineCustomRealVariable("smart_dairy_perf.predicate_sample_rate",
							 "Fraction of statements whose executed plan is searched for predicates the index advisor can use.",
							 NULL, &sdp_predicate_sample_rate, 0.01, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.max_predicates",
							"Number of observed predicates kept in shared memory.",
							NULL, &sdp_max_predicates, 1000, 100, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("smart_dairy_perf");
}

/*
 * A time zone name the partition manager can compute boundaries in: a
 * zone of the tz database ('Europe/Berlin', 'UTC') or a POSIX zone spec.
 * Refused here rather than by every partition function later.
 */
static bool
check_partition_timezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' || pg_tzset(*newval) == NULL)
	{
		GUC_check_errmsg("invalid value for smart_dairy_perf.partition_timezone: \"%s\"",
						 *newval ? *newval : "");
		GUC_check_errdetail("It must be a time zone name such as 'UTC' or 'Europe/Berlin' (see pg_timezone_names).");
		return false;
	}
	return true;
}

/*
 * Settings of the parts that need no shared memory (the partition manager):
 * defined however the library was loaded.
 */
static void
define_maintenance_gucs(void)
{
	DefineCustomStringVariable("smart_dairy_perf.partition_timezone",
							   "Time zone in which partition boundaries of timestamptz keys are computed.",
							   NULL, &sdp_partition_timezone, "UTC",
							   PGC_SUSET, 0, check_partition_timezone, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.partition_max_create",
							"Most partitions one call of the partition manager creates for one table (premake included).",
							"A call that would create more fails before creating any.",
							&sdp_partition_max_create, 500, 1, 100000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.maintenance_lock_timeout",
							"Lock timeout of the first attempt of a maintenance DDL step; later attempts wait up to twice as long.",
							"A query arriving meanwhile waits at most that long behind maintenance. 0: wait as long as lock_timeout says, no retries.",
							&sdp_maintenance_lock_timeout, 20, 0, 60000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.maintenance_lock_retries",
							"Attempts after the first to take the locks of a maintenance step on one table, with backoff and jitter; then the table is given up for this run.",
							NULL,
							&sdp_maintenance_lock_retries, 5, 0, 100,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.detach_wait_timeout",
							"Longest wait of the background worker's DETACH PARTITION CONCURRENTLY for older queries to end; then the detach is finished with FINALIZE at the next run.",
							"That wait holds no lock that queries on the table need. A partition with a foreign key, and FINALIZE, wait only the short lock attempts. 0: no limit.",
							&sdp_detach_wait_timeout, 60000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("smart_dairy_perf.maintenance_databases",
							   "Comma-separated databases in which the background worker runs maintenance.",
							   "Empty: no background maintenance (use pg_cron and sdp.schedule_maintenance()).",
							   &sdp_maintenance_databases, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomStringVariable("smart_dairy_perf.maintenance_role",
							   "Role the maintenance workers connect as; empty: the bootstrap superuser.",
							   NULL, &sdp_maintenance_role, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.maintenance_interval",
							"Time between two maintenance runs of a background worker.",
							NULL, &sdp_maintenance_interval, 60, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.snapshot_interval",
							"Time between two automatic snapshots of the query statistics taken by maintenance; 0 disables them.",
							NULL, &sdp_snapshot_interval, 3600, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.snapshot_retention",
							"Age after which maintenance deletes automatic snapshots.",
							NULL, &sdp_snapshot_retention, 7 * 24 * 3600, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smart_dairy_perf.log_retention",
							"Age after which maintenance deletes rows of sdp.maintenance_log and sdp.matview_refresh_history; -1 keeps them.",
							NULL, &sdp_log_retention, 30 * 24 * 3600, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

void
_PG_init(void)
{
	define_maintenance_gucs();
	if (!process_shared_preload_libraries_in_progress)
		return;

	define_gucs();

	/* have PostgreSQL compute query ids without compute_query_id = on */
	EnableQueryId();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sdp_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sdp_shmem_startup;

	sdp_hooks_install();
	sdp_own_code_install();
	sdp_workers_register_launcher();
}

/*
 * sdp.reset(): forget all statistics, slow queries, N+1 patterns and
 * observed predicates; each store resets itself under its own lock (none
 * held here).
 */
Datum
sdp_reset_all(PG_FUNCTION_ARGS)
{
	int64		removed;

	sdp_store_check_loaded();
	removed = sdp_store_reset(InvalidOid, InvalidOid, 0);
	sdp_slow_reset(0);
	sdp_nplus1_reset(0);
	sdp_predicates_reset();
	PG_RETURN_INT64(removed);
}

/*
 * sdp.reset(queryid): forget one query shape, for every user and database,
 * in the stores that key on it (the observed predicates do not).
 */
Datum
sdp_reset_query(PG_FUNCTION_ARGS)
{
	int64		queryid = PG_GETARG_INT64(0);
	int64		removed;

	sdp_store_check_loaded();
	if (queryid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query id 0 does not identify a query"),
				 errhint("Use sdp.reset() without an argument to reset everything.")));
	removed = sdp_store_reset(InvalidOid, InvalidOid, (uint64) queryid);
	sdp_slow_reset((uint64) queryid);
	sdp_nplus1_reset((uint64) queryid);
	PG_RETURN_INT64(removed);
}
