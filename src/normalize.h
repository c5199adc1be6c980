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

#include "executor/execdesc.h"

extern char *sdp_statement_source_text(QueryDesc *queryDesc, int max_bytes,
									   int *result_len);
extern char *sdp_normalize_query(const char *source_text, int location, int len,
								 JumbleState *jstate, int max_bytes,
								 int *result_len);

#endif							/* SDP_NORMALIZE_H */
