/*-------------------------------------------------------------------------
 *
 * maintenance_lock.c
 *	  Single-flight locks of maintenance: one per database for a whole run
 *	  (the background worker against a pg_cron job), one per partitioned
 *	  table for the actions on it (two runs never act on one parent).
 *
 *	  They are advisory locks in the lock manager, so they show in pg_locks
 *	  (locktype advisory, objsubid 21316) and take part in deadlock
 *	  detection and lock_timeout, but their tag's fourth field is one that
 *	  pg_advisory_lock() and its siblings never produce (they use 1 and 2):
 *	  no role can take them from SQL and so starve maintenance.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lock.h"

#include "maintenance_lock.h"

/* fourth field of the tags ("SD"); SQL's advisory functions use 1 and 2 */
#define SDP_LOCKTAG_FIELD4			0x5344
/* second field: what the lock stands for */
#define SDP_LOCK_MAINTENANCE_RUN	0x5344504D	/* "SDPM" */
#define SDP_LOCK_PARTITIONED_TABLE	0x53445050	/* "SDPP" */

static void
sdp_locktag(LOCKTAG *tag, uint32 kind, uint32 object)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, kind, object, SDP_LOCKTAG_FIELD4);
}

/*
 * Take the run's lock (session-level across transactions, else until the
 * transaction ends).  Without wait, false when another run holds it.
 */
bool
sdp_lock_maintenance_run(bool session, bool wait)
{
	LOCKTAG		tag;

	sdp_locktag(&tag, SDP_LOCK_MAINTENANCE_RUN, 0);
	return LockAcquire(&tag, ExclusiveLock, session, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

/* Release the session-level run lock taken by sdp_lock_maintenance_run(). */
void
sdp_unlock_maintenance_run_session(void)
{
	LOCKTAG		tag;

	sdp_locktag(&tag, SDP_LOCK_MAINTENANCE_RUN, 0);
	LockRelease(&tag, ExclusiveLock, true);
}

/*
 * Lock one partitioned table's maintenance until the transaction ends.
 * Waiting respects lock_timeout; without wait, false when it is held.
 */
bool
sdp_lock_partitioned_table(Oid parent, bool wait)
{
	LOCKTAG		tag;

	sdp_locktag(&tag, SDP_LOCK_PARTITIONED_TABLE, parent);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}
