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
 *	  Whether a function belongs to the extension (its schema, then
 *	  pg_depend for those in it) is looked up once per function and
 *	  backend and kept in a small local hash,
 *	  cleared when pg_proc or pg_namespace change.  Nothing here runs per
 *	  statement; a call of a function with SET options costs one hash
 *	  probe more.  No shared memory, no locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "own_code.h"

/* the schema the extension's objects live in */
#define SDP_SCHEMA "sdp"
#define SDP_EXTENSION "smart_dairy_perf"

int			sdp_own_code_depth = 0;

static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

typedef struct FunctionOwnership
{
	Oid			fn_oid;			/* hash key */
	bool		own;
} FunctionOwnership;

static HTAB *ownership = NULL;

/* bumped by every invalidation: a lookup it interrupted is not cached */
static uint64 ownership_generation = 0;

static void
forget_ownership(Datum arg, int cacheid, uint32 hashvalue)
{
	ownership_generation++;
	if (ownership != NULL)
	{
		hash_destroy(ownership);
		ownership = NULL;
	}
}

/*
 * A function of the extension: in the schema named sdp and a member of the
 * extension (a role that can create a schema named sdp in a database
 * without the extension does not make its functions the extension's).
 * Catalog lookups, which may process invalidations.
 */
static bool
lookup_ownership(Oid fn_oid)
{
	Oid			nsp = get_func_namespace(fn_oid);
	char	   *nspname;
	bool		in_schema;
	Oid			extension;

	if (!OidIsValid(nsp))
		return false;
	nspname = get_namespace_name(nsp);
	in_schema = nspname != NULL && strcmp(nspname, SDP_SCHEMA) == 0;
	if (nspname != NULL)
		pfree(nspname);
	if (!in_schema)
		return false;
	extension = getExtensionOfObject(ProcedureRelationId, fn_oid);
	return OidIsValid(extension) &&
		extension == get_extension_oid(SDP_EXTENSION, true);
}

/* Is this a function of the extension?  Catalogs once per function and backend. */
static bool
own_function(Oid fn_oid)
{
	static bool callbacks_registered = false;
	FunctionOwnership *f;
	uint64		generation;
	bool		own;

	if (ownership != NULL)
	{
		f = hash_search(ownership, &fn_oid, HASH_FIND, NULL);
		if (f != NULL)
			return f->own;
	}
	if (!callbacks_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, forget_ownership, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, forget_ownership, (Datum) 0);
		callbacks_registered = true;
	}

	/*
	 * Looked up before the entry is made: the lookup may process
	 * invalidations, which destroy the hash.
	 */
	generation = ownership_generation;
	own = lookup_ownership(fn_oid);
	if (generation != ownership_generation)
		return own;				/* the catalogs changed meanwhile: ask again next time */

	if (ownership == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(FunctionOwnership);
		ctl.hcxt = TopMemoryContext;
		ownership = hash_create("smart_dairy_perf own functions", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	f = hash_search(ownership, &fn_oid, HASH_ENTER, NULL);
	f->own = own;
	return own;
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
	/*
	 * The previous hook starts first and ends last, so that an error it
	 * raises leaves this one's count balanced.
	 */
	if (prev_fmgr_hook && event == FHET_START)
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

	if (prev_fmgr_hook && event != FHET_START)
		prev_fmgr_hook(event, flinfo, private);
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
