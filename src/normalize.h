/*-------------------------------------------------------------------------
 *
 * normalize.h
 *	  Normalized query text: constants replaced by $n.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_NORMALIZE_H
#define SDP_NORMALIZE_H

#include "compat.h"

extern char *sdp_normalize_query(const char *source_text, int location, int len,
								 JumbleState *jstate, int max_bytes,
								 int *result_len);

#endif							/* SDP_NORMALIZE_H */
