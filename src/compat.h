/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The one place where differences between PostgreSQL major versions are
 *	  handled.  Other files include this instead of testing PG_VERSION_NUM.
 *
 *	  smart_dairy_perf supports PostgreSQL 15 and later: it relies on
 *	  shmem_request_hook (15), the JumbleState passed to post_parse_analyze
 *	  (14) and EnableQueryId() (14).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_COMPAT_H
#define SDP_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "smart_dairy_perf requires PostgreSQL 15 or later"
#endif

#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
#endif

/* this backend's local transaction id */
#if PG_VERSION_NUM >= 170000
#define SDP_MY_LXID (MyProc->vxid.lxid)
#else
#define SDP_MY_LXID (MyProc->lxid)
#endif

#endif							/* SDP_COMPAT_H */
