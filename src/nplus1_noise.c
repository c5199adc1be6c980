/*-------------------------------------------------------------------------
 *
 * nplus1_noise.c
 *	  Which loops the N+1 detector finds are not the application's to fix:
 *	  - statements PostgreSQL itself runs once per row: the RI triggers'
 *	    foreign-key checks and cascades (an INSERT ... SELECT into a table
 *	    with foreign keys checks every row), and the bodies of the system
 *	    catalogs' SQL functions called per row (information_schema's
 *	    _pg_expandarray() in an ORM's introspection query).  System SQL
 *	    functions with a SQL-standard body (BEGIN ATOMIC, most of those in
 *	    pg_catalog) run without a query id and are never watched at all;
 *	  - keyset pagination, a loop no batch replaces.
 *	  The extension's own statements are known elsewhere (own_code.c).
 *
 *	  Called only when a loop is confirmed (nplus1.c), never per statement.
 *	  The system functions' bodies are read from pg_proc once per backend,
 *	  the first time a nested loop is confirmed, into a local hash of their
 *	  texts' hashes (cleared when pg_proc changes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "nplus1.h"

static HTAB *system_bodies = NULL;

static void
forget_system_bodies(Datum arg, int cacheid, uint32 hashvalue)
{
	if (system_bodies != NULL)
	{
		hash_destroy(system_bodies);
		system_bodies = NULL;
	}
}

static uint64
text_hash(const char *text)
{
	return hash_bytes_extended((const unsigned char *) text, strlen(text), 0);
}

/* The hashes of the bodies of the SQL functions of pg_catalog and information_schema. */
static HTAB *
load_system_bodies(void)
{
	static bool callback_registered = false;
	HASHCTL		ctl;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			info_schema = get_namespace_oid("information_schema", true);

	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, forget_system_bodies, (Datum) 0);
		callback_registered = true;
	}
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(uint64);
	ctl.hcxt = TopMemoryContext;
	system_bodies = hash_create("smart_dairy_perf system SQL functions", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	rel = table_open(ProcedureRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tuple);
		Datum		src;
		bool		isnull;
		char	   *body;
		uint64		h;

		if (proc->prolang != SQLlanguageId ||
			(proc->pronamespace != PG_CATALOG_NAMESPACE && proc->pronamespace != info_schema))
			continue;
		src = heap_getattr(tuple, Anum_pg_proc_prosrc, RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		body = TextDatumGetCString(src);
		if (body[0] != '\0')	/* BEGIN ATOMIC: no text, no query id */
		{
			h = text_hash(body);
			(void) hash_search(system_bodies, &h, HASH_ENTER, NULL);
		}
		pfree(body);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return system_bodies;
}

/*
 * Who wrote this statement of a confirmed loop: the application, or
 * PostgreSQL (SDP_ORIGIN_FOREIGN_KEY for the RI triggers' queries and the
 * system catalogs' SQL functions).  The RI triggers' queries are nested
 * and written by ri_triggers.c with fully qualified operators
 * ("OPERATOR(pg_catalog.=)") that no ORM writes.  Reads pg_catalog the
 * first time (see the header).
 */
char
sdp_nplus1_system_statement(QueryDesc *queryDesc, int level)
{
	const char *text = queryDesc->sourceText;
	uint64		h;

	if (level == 0 || text == NULL || text[0] == '\0')
		return SDP_ORIGIN_APPLICATION;
	if ((strncmp(text, "SELECT 1 FROM ", 14) == 0 ||
		 strncmp(text, "DELETE FROM ", 12) == 0 ||
		 strncmp(text, "UPDATE ", 7) == 0) &&
		strstr(text, " OPERATOR(pg_catalog.") != NULL)
		return SDP_ORIGIN_FOREIGN_KEY;

	if (system_bodies == NULL)
		(void) load_system_bodies();
	h = text_hash(text);
	if (hash_search(system_bodies, &h, HASH_FIND, NULL) != NULL)
		return SDP_ORIGIN_SYSTEM;
	return SDP_ORIGIN_APPLICATION;
}

static const char *
find_word(const char *text, const char *word)
{
	size_t		len = strlen(word);

	for (const char *p = text; *p; p++)
		if (pg_strncasecmp(p, word, len) == 0)
			return p;
	return NULL;
}

/*
 * Keyset pagination: the statement orders, limits, and compares with a
 * parameter by a range (WHERE id > $1 ORDER BY id LIMIT 100).  Each page
 * follows the last one's key: a loop, but not one a batch could replace.
 */
bool
sdp_nplus1_keyset_page(const char *query)
{
	const char *order = find_word(query, "order by");

	if (order == NULL || find_word(order, "limit") == NULL)
		return false;
	for (const char *p = query; p < order; p++)
		if ((*p == '>' || *p == '<') && p[1] != '>' && p[1] != '<' &&
			(p == query || (p[-1] != '<' && p[-1] != '>' && p[-1] != '-')))
		{
			const char *q = p + 1;

			if (*q == '=')
				q++;
			while (*q == ' ')
				q++;
			if (*q == '$')
				return true;
		}
	return false;
}
