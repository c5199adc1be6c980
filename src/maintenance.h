/*-------------------------------------------------------------------------
 *
 * maintenance.h
 *	  The periodic maintenance run: its steps and how their outcomes are
 *	  logged, shared by sdp.run_maintenance() and the background worker.
 *	  The run's lock is maintenance_lock.h's, the log rows are written
 *	  through maintenance_log.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_MAINTENANCE_H
#define SDP_MAINTENANCE_H

#include "utils/timestamp.h"

typedef struct SdpStepResult
{
	const char *status;			/* "ok", or "error" when an item failed */
	char	   *message;
	double		duration_ms;
} SdpStepResult;

extern int	sdp_maintenance_step_count(void);
extern const char *sdp_maintenance_step_name(int step);
extern void sdp_maintenance_run_step(int step, SdpStepResult *result);
extern void sdp_maintenance_step_failed(int step, TimestampTz started,
										const char *message);
extern void sdp_maintenance_step_logged(int step, TimestampTz started,
										const char *status, const char *message);

extern const char *sdp_maintenance_skipped(void);
extern int	sdp_maintenance_partition_step(void);

#endif							/* SDP_MAINTENANCE_H */
