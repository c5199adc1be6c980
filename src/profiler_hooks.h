/*-------------------------------------------------------------------------
 *
 * profiler_hooks.h
 *	  Parser, executor and utility hooks of the query profiler.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_PROFILER_HOOKS_H
#define SDP_PROFILER_HOOKS_H

extern void sdp_hooks_install(void);

#endif							/* SDP_PROFILER_HOOKS_H */
