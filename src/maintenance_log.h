/*-------------------------------------------------------------------------
 *
 * maintenance_log.h
 *	  Rows of sdp.maintenance_log, and the one way a maintenance action
 *	  reports a failed item (maintenance_log.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_MAINTENANCE_LOG_H
#define SDP_MAINTENANCE_LOG_H

#include "postgres.h"

#include "utils/timestamp.h"

extern void sdp_maintenance_log(TimestampTz started, const char *object,
								const char *action, const char *status,
								const char *message);
extern void sdp_maintenance_log_rel(Oid relid, TimestampTz started,
									const char *object, const char *action,
									const char *status, const char *message);
extern void sdp_maintenance_log_failure(Oid relid, TimestampTz started,
										const char *object, const char *action,
										const char *status, const char *logged,
										const char *failure,
										const char *fmt,...) pg_attribute_printf(8, 9);

#endif							/* SDP_MAINTENANCE_LOG_H */
