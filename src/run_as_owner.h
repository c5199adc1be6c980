/*-------------------------------------------------------------------------
 *
 * run_as_owner.h
 *	  Whose rights maintenance uses: the object owner's, inside a
 *	  security-restricted operation, under a search_path that only holds
 *	  pg_catalog and pg_temp (run_as_owner.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_RUN_AS_OWNER_H
#define SDP_RUN_AS_OWNER_H

#include "postgres.h"

#include "nodes/parsenodes.h"

/* what sdp_become_owner() replaced, for sdp_restore_user() */
typedef struct SdpSavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;
} SdpSavedUser;

/*
 * ORDER BY of the aggregates that pick, per query id, the sdp.query_stats
 * row (q) whose role, search_path and sample a statement is planned or run
 * with: the heaviest, ties broken over the rest of the row's key, so that
 * the role, the search_path and the sample all come from the same row.
 */
#define HEAVIEST_ROW_FIRST \
	"q.total_exec_time DESC, q.userid, q.toplevel, q.application_name"

/* join condition: the sdp.query_samples row (s) of the sdp.query_stats row (q) */
#define SAMPLE_OF_STATS_ROW \
	"s.userid OPERATOR(pg_catalog.=) q.userid " \
	" AND s.dbid OPERATOR(pg_catalog.=) q.dbid AND s.queryid OPERATOR(pg_catalog.=) q.queryid " \
	" AND s.toplevel OPERATOR(pg_catalog.=) q.toplevel " \
	" AND s.application OPERATOR(pg_catalog.=) q.application_name "

/* the sdp.query_stats rows (q) that are this database's workload: not the worker's */
#define WORKLOAD_OF_THIS_DATABASE \
	"q.application_name IS DISTINCT FROM 'smart_dairy_perf maintenance' " \
	"AND q.dbid OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database " \
	"              WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) "

/* the search_path of every SQL text the extension builds and runs */
#define SDP_SAFE_SEARCH_PATH	"pg_catalog, pg_temp"

extern Oid	sdp_relation_owner(Oid relid);
extern bool sdp_query_single_owner(Query *query, Oid *owner);
extern void sdp_become_owner(Oid owner, SdpSavedUser *saved);
extern void sdp_become_role(Oid role, const char *search_path,
							SdpSavedUser *saved);
extern void sdp_restore_user(SdpSavedUser *saved);
extern uint64 sdp_spi_exec_as_owner(Oid owner, const char *sql);
extern uint64 sdp_spi_exec_params_as_owner(Oid owner, const char *sql, int nargs,
										   Oid *argtypes, Datum *values,
										   const char *nulls);
extern int	sdp_restrict_search_path(void);
extern bool sdp_config_writer_may_act(Oid writer, Oid relid);

#endif							/* SDP_RUN_AS_OWNER_H */
