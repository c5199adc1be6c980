/*-------------------------------------------------------------------------
 *
 * run_as_owner.c
 *	  Maintenance acts for many owners, so it acts on each object with that
 *	  owner's rights and nothing more, as PostgreSQL itself does for
 *	  autovacuum, REFRESH MATERIALIZED VIEW and CREATE INDEX: the current
 *	  user becomes the owner inside a security-restricted operation (no
 *	  SET ROLE, no temporary objects, no session state a trigger could
 *	  leave behind), and search_path is pg_catalog, pg_temp, so an
 *	  unqualified function or operator in a statement we build, or in the
 *	  owner's own trigger, index expression or default, cannot resolve to
 *	  an object another role planted in a schema it can write.
 *
 *	  The owner context covers one statement (sdp_spi_exec_as_owner) or a
 *	  short block between sdp_become_owner() and sdp_restore_user(); the
 *	  extension's own bookkeeping (sdp.maintenance_log, configuration)
 *	  runs as the caller.  An error inside the block needs no cleanup: the
 *	  (sub)transaction abort restores the user, the security context and
 *	  the settings.
 *
 *	  A superuser's statement is not run (or planned) as the superuser: as
 *	  the one owner of everything it reads (sdp_query_single_owner()),
 *	  whose code its tables' views, index expressions and predicates are.
 *
 *	  Configuration rows name objects; sdp_config_writer_may_act() says
 *	  whether the role that wrote a row may have maintenance act on the
 *	  object, checked when the row is used (ownership can change after a
 *	  row was written).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "run_as_owner.h"
#include "spi_util.h"

/* search_path = path in a new GUC nest level, which the caller ends. */
static int
push_search_path(const char *path)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/* The owner of a relation; ERROR when it no longer exists. */
Oid
sdp_relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static bool single_owner_mismatch(Node *node, Oid *owner);

/* Collect the owner of each relation under node; false at a second owner. */
static bool
single_owner_walker(Node *node, Oid *owner)
{
	if (node == NULL)
		return true;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		ListCell   *lc;

		foreach(lc, query->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);
			Oid			o;

			if (rte->rtekind != RTE_RELATION)
				continue;
			o = sdp_relation_owner(rte->relid);
			if (OidIsValid(*owner) && o != *owner)
				return false;
			*owner = o;
		}
		return !query_tree_walker(query, single_owner_mismatch, owner, 0);
	}
	return !expression_tree_walker(node, single_owner_mismatch, owner);
}

/* walker form of single_owner_walker(): true stops at a second owner */
static bool
single_owner_mismatch(Node *node, Oid *owner)
{
	return !single_owner_walker(node, owner);
}

/*
 * The owner of every relation a rewritten query reads (through subqueries,
 * sublinks and CTEs) in *owner (InvalidOid: it reads none); false when
 * they have more than one owner.  Reads the syscache, no lock.
 */
bool
sdp_query_single_owner(Query *query, Oid *owner)
{
	*owner = InvalidOid;
	return single_owner_walker((Node *) query, owner);
}

/*
 * Run as owner from here on: security-restricted, safe search_path.  The
 * caller restores with sdp_restore_user() in the same (sub)transaction.
 */
void
sdp_become_owner(Oid owner, SdpSavedUser *saved)
{
	sdp_become_role(owner, SDP_SAFE_SEARCH_PATH, saved);
}

/*
 * Run as role from here on, security-restricted, with the given
 * search_path (for planning a statement as the role that ran it).  Undo
 * with sdp_restore_user() in the same (sub)transaction.
 */
void
sdp_become_role(Oid role, const char *search_path, SdpSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(role,
						   saved->sec_context | SECURITY_RESTRICTED_OPERATION);
	saved->guc_nestlevel = push_search_path(search_path);
}

/* Undo sdp_become_owner(). */
void
sdp_restore_user(SdpSavedUser *saved)
{
	AtEOXact_GUC(false, saved->guc_nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/* One statement as owner (caller connected to SPI).  Returns rows processed. */
uint64
sdp_spi_exec_as_owner(Oid owner, const char *sql)
{
	return sdp_spi_exec_params_as_owner(owner, sql, 0, NULL, NULL, NULL);
}

/*
 * One statement with parameters as owner: every statement that reads a
 * user's table goes through here too, since planning it evaluates the
 * table's index expressions and partial-index predicates (constant
 * folding).  Caller connected to SPI.  Returns rows processed.
 */
uint64
sdp_spi_exec_params_as_owner(Oid owner, const char *sql, int nargs,
							 Oid *argtypes, Datum *values, const char *nulls)
{
	SdpSavedUser saved;
	uint64		n;

	sdp_become_owner(owner, &saved);
	n = sdp_spi_exec(sql, nargs, argtypes, values, nulls);
	sdp_restore_user(&saved);
	return n;
}

/*
 * search_path = pg_catalog, pg_temp until AtEOXact_GUC(..., returned
 * level); a (sub)transaction abort restores it too.
 */
int
sdp_restrict_search_path(void)
{
	return push_search_path(SDP_SAFE_SEARCH_PATH);
}

/*
 * May maintenance act on relid as configured by writer?  Only when the
 * writer has the privileges of the relation's current owner (a superuser
 * has every role's).  No catalog lock is taken.
 */
bool
sdp_config_writer_may_act(Oid writer, Oid relid)
{
	return OidIsValid(writer) && has_privs_of_role(writer, sdp_relation_owner(relid));
}
