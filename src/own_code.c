/*-------------------------------------------------------------------------
 *
 * own_code.c
 *	  Knows when the extension's own code is running in this backend, so
 *	  that N+1 detection can leave its statements out: the loops of
 *	  sdp.report(), the maintenance steps, sdp.snapshot() are the
 *	  extension's, not the application's, and a DBA cannot act on them.
 *
 *	  - Background workers of the extension mark their whole backend
 *	    (sdp_own_code_mark_backend()).
 *	  - Functions of the extension's schema are counted while they run,
 *	    through PostgreSQL's function manager hooks: fmgr_hook is called
 *	    around every call of a function with SET options (every SQL and
 *	    PL/pgSQL function of the extension has SET search_path), and
 *	    needs_fmgr_hook asks it for the others, which this answers with
 *	    yes for the extension's C functions only.  Functions the hook is
 *	    asked for are not inlined; SQL functions with SET options never are,
 *	    so no plan changes.
 *
 *	  Whether a function belongs to the schema is looked up once per
 *	  function and backend (syscache) and kept in a small local hash,
 *	  cleared when pg_proc or pg_namespace change.  Nothing here runs per
 *	  statement; a call of a function with SET options costs one hash
 *	  probe more.  No shared memory, no locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "own_code.h"

/* the schema the extension's objects live in */
#define SDP_SCHEMA "sdp"

int			sdp_own_code_depth = 0;

static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

typedef struct FunctionOwnership
{
	Oid			fn_oid;			/* hash key */
	bool		own;
} FunctionOwnership;

static HTAB *ownership = NULL;

static void
forget_ownership(Datum arg, int cacheid, uint32 hashvalue)
{
	if (ownership != NULL)
	{
		hash_destroy(ownership);
		ownership = NULL;
	}
}

/* Is this a function of the extension's schema?  Syscache once per function. */
static bool
own_function(Oid fn_oid)
{
	static bool callbacks_registered = false;
	FunctionOwnership *f;
	bool		found;

	if (ownership == NULL)
	{
		HASHCTL		ctl;

		if (!callbacks_registered)
		{
			CacheRegisterSyscacheCallback(PROCOID, forget_ownership, (Datum) 0);
			CacheRegisterSyscacheCallback(NAMESPACEOID, forget_ownership, (Datum) 0);
			callbacks_registered = true;
		}
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(FunctionOwnership);
		ctl.hcxt = TopMemoryContext;
		ownership = hash_create("smart_dairy_perf own functions", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	f = hash_search(ownership, &fn_oid, HASH_ENTER, &found);
	if (!found)
	{
		Oid			nsp = get_func_namespace(fn_oid);

		f->own = OidIsValid(nsp) && nsp == get_namespace_oid(SDP_SCHEMA, true);
	}
	return f->own;
}

/* Asked for functions without SET options: yes for the extension's C functions. */
static bool
sdp_needs_fmgr_hook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && prev_needs_fmgr_hook(fn_oid))
		return true;
	return own_function(fn_oid);
}

/*
 * Calls of hooked functions nest strictly (an error ends each with
 * FHET_ABORT on its way out): whether each open one is the extension's.
 */
#define MAX_TRACKED_CALLS 256
static int	hooked_calls = 0;
static bool hooked_call_own[MAX_TRACKED_CALLS];

/* Around every call of a hooked function: count the extension's own. */
static void
sdp_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, private);

	switch (event)
	{
		case FHET_START:
			{
				/* deeper than we track: counted as the application's */
				bool		own = hooked_calls < MAX_TRACKED_CALLS &&
					own_function(flinfo->fn_oid);

				if (hooked_calls < MAX_TRACKED_CALLS)
					hooked_call_own[hooked_calls] = own;
				hooked_calls++;
				if (own)
					sdp_own_code_depth++;
			}
			break;
		case FHET_END:
		case FHET_ABORT:
			if (hooked_calls > 0)
			{
				hooked_calls--;
				if (hooked_calls < MAX_TRACKED_CALLS &&
					hooked_call_own[hooked_calls] && sdp_own_code_depth > 0)
					sdp_own_code_depth--;
			}
			break;
	}
}

/* Install the function manager hooks, chaining to the previous ones; from _PG_init only. */
void
sdp_own_code_install(void)
{
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = sdp_needs_fmgr_hook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = sdp_fmgr_hook;
}

/* This whole backend is the extension's (a background worker); call once at its start. */
void
sdp_own_code_mark_backend(void)
{
	sdp_own_code_depth++;
}
