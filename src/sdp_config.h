/*-------------------------------------------------------------------------
 *
 * sdp_config.h
 *	  The configuration (GUC) variables of smart_dairy_perf.  They are
 *	  defined and registered in smart_dairy_perf.c; every other module reads
 *	  them through this header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_CONFIG_H
#define SDP_CONFIG_H

typedef enum SdpTrackLevel
{
	SDP_TRACK_NONE,				/* profile nothing */
	SDP_TRACK_TOP,				/* only statements sent by clients */
	SDP_TRACK_ALL				/* also statements run inside functions */
} SdpTrackLevel;

typedef enum SdpPlanCapture
{
	SDP_PLAN_OFF,				/* slow queries are kept without a plan */
	SDP_PLAN_SLOW,				/* plan text (estimates only) of slow queries */
	SDP_PLAN_SLOW_ANALYZE		/* plan with actual rows, sampled */
} SdpPlanCapture;

extern bool sdp_enabled;
extern int	sdp_track;
extern bool sdp_track_utility;
extern bool sdp_track_planning;
extern int	sdp_max_queries;
extern int	sdp_max_query_text;
extern bool sdp_keep_samples;
extern int	sdp_slow_query_ms;
extern int	sdp_max_slow_queries;
extern int	sdp_max_plan_text;
extern int	sdp_max_plan_json;
extern int	sdp_plan_capture;
extern double sdp_plan_sample_rate;
extern bool sdp_save;
extern bool sdp_nplus1_detection;
extern int	sdp_nplus1_min_repeats;
extern int	sdp_nplus1_max_gap_ms;
extern bool sdp_nplus1_log;
extern bool sdp_nplus1_include_internal;
extern int	sdp_max_nplus1_patterns;
extern char *sdp_request_id;
extern char *sdp_partition_timezone;
extern int	sdp_partition_max_create;
extern int	sdp_maintenance_lock_timeout;	/* milliseconds; 0: none */
extern int	sdp_maintenance_lock_retries;
extern int	sdp_detach_wait_timeout;	/* milliseconds; 0: none */
extern char *sdp_maintenance_databases;
extern char *sdp_maintenance_role;
extern int	sdp_maintenance_interval;	/* seconds */
extern int	sdp_log_retention;
extern int	sdp_advisor_min_table_pages;
extern int	sdp_snapshot_interval;	/* seconds; 0: none */
extern int	sdp_snapshot_retention;	/* seconds */
extern double sdp_predicate_sample_rate;
extern int	sdp_max_predicates;

#endif							/* SDP_CONFIG_H */
