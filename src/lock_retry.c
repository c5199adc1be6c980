/*-------------------------------------------------------------------------
 *
 * lock_retry.c
 *	  How maintenance DDL waits for locks, after GitLab's with_lock_retries
 *	  migration helper: every attempt takes its locks with a short
 *	  lock_timeout (smart_dairy_perf.maintenance_lock_timeout, doubled after
 *	  the first attempt, up to twice that), an attempt that times out is
 *	  rolled back by its caller, which releases every lock it took, and the
 *	  next one starts after a backoff that doubles, with jitter, so that
 *	  maintenance does not keep hitting a long reader at the same moment;
 *	  after smart_dairy_perf.maintenance_lock_retries retries the caller
 *	  gives the table up for this run.
 *
 *	  A query that arrives while maintenance waits for a lock queues behind
 *	  the waiting DDL for at most the current attempt's timeout.  Nothing
 *	  here holds state; the callers own the attempts (partition_manager.c
 *	  for the steps inside a transaction, partition_detach.c for the
 *	  background worker's top-level DETACH ... CONCURRENTLY).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

#include "lock_retry.h"
#include "sdp_config.h"

/* the timeout grows up to this many times the first one */
#define LOCK_TIMEOUT_GROWTH_MAX	2
/* the first backoff, in multiples of the first timeout; it doubles */
#define LOCK_BACKOFF_FACTOR		2
/* no backoff longer than this */
#define LOCK_BACKOFF_MAX_MS		5000

/* Attempts a lock-taking step gets: the first and the retries. */
int
sdp_lock_attempts(void)
{
	if (sdp_maintenance_lock_timeout <= 0)
		return 1;
	return 1 + sdp_maintenance_lock_retries;
}

/*
 * lock_timeout (ms) of attempt (0 first): the setting, doubled at every
 * attempt up to LOCK_TIMEOUT_GROWTH_MAX times it; 0 when unlimited.
 */
int
sdp_lock_attempt_timeout(int attempt)
{
	int			growth = 1;

	if (sdp_maintenance_lock_timeout <= 0)
		return 0;
	for (int i = 0; i < attempt && growth < LOCK_TIMEOUT_GROWTH_MAX; i++)
		growth *= 2;
	return sdp_maintenance_lock_timeout * growth;
}

/*
 * lock_timeout (ms) an attempt runs under: its timeout, or the session's
 * lock_timeout when that is shorter or the attempt's is unlimited (0).
 */
int
sdp_lock_wait_ms(int attempt)
{
	int			timeout = sdp_lock_attempt_timeout(attempt);

	if (timeout == 0 || (LockTimeout > 0 && LockTimeout < timeout))
		return LockTimeout;
	return timeout;
}

/*
 * lock_timeout = sdp_lock_wait_ms(attempt) for the statements that follow,
 * until the current GUC nest level ends.
 */
void
sdp_limit_lock_wait(int attempt)
{
	char		value[32];

	snprintf(value, sizeof(value), "%d", sdp_lock_wait_ms(attempt));
	(void) set_config_option("lock_timeout", value,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

/*
 * Sleep before the attempt after attempt: LOCK_BACKOFF_FACTOR times the
 * first timeout, doubled at every attempt, times a random factor in
 * [0.5, 1.5).  Interruptible; caller holds no lock a query may need.
 */
void
sdp_lock_retry_backoff(int attempt)
{
	double		ms = (double) sdp_maintenance_lock_timeout * LOCK_BACKOFF_FACTOR;

	for (int i = 0; i < attempt && ms < LOCK_BACKOFF_MAX_MS; i++)
		ms *= 2;
	ms = Min(ms, LOCK_BACKOFF_MAX_MS) * (0.5 + pg_prng_double(&pg_global_prng_state));
	CHECK_FOR_INTERRUPTS();
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max((long) ms, 1), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/* "6 attempts, lock_timeout 20 ms to 80 ms", for log rows; palloc'd */
char *
sdp_lock_attempts_text(int attempts)
{
	if (sdp_lock_attempt_timeout(0) == 0)
		return psprintf("%d attempt%s", attempts, attempts == 1 ? "" : "s");
	return psprintf("%d attempt%s, lock_timeout %d ms to %d ms", attempts,
					attempts == 1 ? "" : "s", sdp_lock_attempt_timeout(0),
					sdp_lock_attempt_timeout(attempts - 1));
}
