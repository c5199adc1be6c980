/*-------------------------------------------------------------------------
 *
 * lock_retry.h
 *	  Short lock attempts of maintenance DDL, retried with growing
 *	  timeouts, backoff and jitter (lock_retry.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_LOCK_RETRY_H
#define SDP_LOCK_RETRY_H

#include "postgres.h"

extern int	sdp_lock_attempts(void);
extern int	sdp_lock_attempt_timeout(int attempt);
extern int	sdp_lock_wait_ms(int attempt);
extern void sdp_limit_lock_wait(int attempt);
extern void sdp_lock_retry_backoff(int attempt);
extern char *sdp_lock_attempts_text(int attempts);

#endif							/* SDP_LOCK_RETRY_H */
