/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The one place where differences between PostgreSQL major versions are
 *	  handled.  Other files include this instead of testing PG_VERSION_NUM.
 *
 *	  Built and tested with PostgreSQL 15 only (Debian 12's packages): that
 *	  is the one version this project claims.  It needs at least 15:
 *	  shmem_request_hook (15), the JumbleState passed to post_parse_analyze
 *	  (14) and EnableQueryId() (14); older versions stop at the #error below.
 *
 *	  The #if branches for 16 and 17 record what is known to move there
 *	  (queryjumble.h, MyProc->vxid) but have never been compiled: they are
 *	  notes, not support.  Other calls are known not to build on 16:
 *	  pg_class_ownercheck() (partition_bounds.c, matview_manager.c), which
 *	  16 replaced with object_ownercheck().  A port starts here, with
 *	  PG_VERSION_NUM tests in this file only.
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
