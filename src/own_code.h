/*-------------------------------------------------------------------------
 *
 * own_code.h
 *	  Whether the statement running now comes from smart_dairy_perf's own
 *	  code: its background workers and the functions of its schema
 *	  (own_code.c).  N+1 detection leaves such statements out by default.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_OWN_CODE_H
#define SDP_OWN_CODE_H

/* calls of the extension's functions open in this backend, plus one for its workers */
extern int	sdp_own_code_depth;

/* Is the extension's own code running in this backend now?  Hot path, no lock. */
static inline bool
sdp_own_code_running(void)
{
	return sdp_own_code_depth > 0;
}

extern void sdp_own_code_install(void);
extern void sdp_own_code_mark_backend(void);

#endif							/* SDP_OWN_CODE_H */
