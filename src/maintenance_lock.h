/*-------------------------------------------------------------------------
 *
 * maintenance_lock.h
 *	  The locks that keep two maintenance runs apart (maintenance_lock.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_MAINTENANCE_LOCK_H
#define SDP_MAINTENANCE_LOCK_H

#include "postgres.h"

extern bool sdp_lock_maintenance_run(bool session, bool wait);
extern void sdp_unlock_maintenance_run_session(void);
extern bool sdp_lock_partitioned_table(Oid parent, bool wait);

#endif							/* SDP_MAINTENANCE_LOCK_H */
