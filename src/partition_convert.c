/*-------------------------------------------------------------------------
 *
 * partition_convert.c
 *	  sdp.partition_table(): converts a plain table into a range-partitioned
 *	  table of the same name, in one transaction (all or nothing).
 *
 *	  Carried over: columns with their defaults, NOT NULL and CHECK
 *	  constraints, generated and identity columns, storage and compression,
 *	  column, table, constraint and index comments, primary key, unique and
 *	  foreign-key constraints and indexes under their original names, table
 *	  and column privileges, the owner, the tablespace, sequences owned by its
 *	  columns; identity sequences keep their name, options, grants, comment
 *	  and current value; column statistics targets and options (n_distinct,
 *	  ...); extended statistics under their names with their targets,
 *	  comments and owner; row-level security (ENABLE and FORCE) and every
 *	  policy with its comment; the replica identity (DEFAULT, FULL, NOTHING,
 *	  USING INDEX); membership in each publication that names the table,
 *	  with its column list and row filter, re-added after the rows are
 *	  copied so that the copy is not published as new rows.
 *
 *	  Partitions: PostgreSQL 15 accepts no storage parameters on a
 *	  partitioned table, so the table's reloptions (fillfactor, autovacuum_*,
 *	  toast.*) are set on every partition the conversion makes, the default
 *	  one included; partitions made later by maintenance do NOT get them
 *	  (there is nothing to copy them from: set them with ALTER TABLE on the
 *	  new partitions).  The replica identity and the columns' statistics
 *	  targets and options, which PostgreSQL does not pass down by itself, are
 *	  set on every partition, also those made later by maintenance
 *	  (sdp_partition_inherit_properties()).  Partitions get no grants of
 *	  their own (beyond default privileges): they are read through the
 *	  parent, where its row-level security applies.
 *
 *	  Refused before anything changes, each with a hint: temporary and
 *	  unlogged tables (PostgreSQL 15 partitioned tables cannot be unlogged),
 *	  table access methods other than heap, a primary key or unique
 *	  constraint/index without the partition column (PostgreSQL cannot
 *	  enforce it across partitions), exclusion constraints, foreign keys of
 *	  other tables that reference it, views that depend on it, rules,
 *	  triggers, inheritance, indexes in a tablespace of their own, security
 *	  labels; publications it could not stay in as it was: a FOR ALL TABLES
 *	  or FOR TABLES IN SCHEMA publication covering it (the copied rows would
 *	  be published as new inserts), one without publish_via_partition_root
 *	  (changes would be published under the partitions' names), one the
 *	  caller does not own (it could not be added back).
 *
 *	  The rows are copied with the old table's row-level security disabled:
 *	  under FORCE ROW LEVEL SECURITY the owner would otherwise copy only the
 *	  rows its policies show it.  Every statement runs with search_path =
 *	  pg_catalog, pg_temp, and definitions are deparsed under it, so that no
 *	  object of another schema can stand in for a catalog function.
 *
 *	  Locks: ACCESS EXCLUSIVE on the table for the whole transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "maintenance_log.h"
#include "partition_manager.h"
#include "sdp_config.h"
#include "run_as_owner.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_partition_table);

/*
 * Run a catalog query about relid ($1) and return its first row's column
 * "found" as text, or NULL when it returns no row.  Caller connected to SPI.
 */
static char *
catalog_find(const char *sql, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (sdp_spi_exec(sql, 1, types, values, NULL) == 0)
		return NULL;
	return sdp_spi_get_text(0, "found");
}

/*
 * Temporary and unlogged tables, and access methods other than heap.
 * Caller connected to SPI.
 */
static void
refuse_kind(Oid relid, AttrNumber attnum, const char *column)
{
	Oid			types[2] = {OIDOID, INT2OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(attnum)};
	const char *relname = get_rel_name(relid);
	char	   *persistence;
	char	   *am;

	sdp_spi_exec("SELECT c.relpersistence::text AS persistence, a.amname::text AS am "
				 "  FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_am a ON a.oid = c.relam "
				 " WHERE c.oid = $1", 1, types, values, NULL);
	persistence = sdp_spi_get_text(0, "persistence");
	am = sdp_spi_get_text(0, "am");
	if (strcmp(persistence, "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition temporary table \"%s\"", relname),
				 errhint("A temporary table ends with its session; partition a permanent table instead.")));
	if (strcmp(persistence, "u") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it is unlogged", relname),
				 errhint("Partitioned tables cannot be unlogged in PostgreSQL 15: make it logged "
						 "first with ALTER TABLE ... SET LOGGED, or keep it unpartitioned.")));
	if (am == NULL || strcmp(am, "heap") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it uses table access method \"%s\"",
						relname, am ? am : "?"),
				 errhint("Only tables using the heap access method can be converted.")));
}

/*
 * Primary keys, unique constraints and unique indexes without the
 * partition column, which PostgreSQL could no longer enforce.  Caller
 * connected to SPI.
 */
static void
refuse_unenforceable_keys(Oid relid, AttrNumber attnum, const char *column)
{
	Oid			types[2] = {OIDOID, INT2OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(attnum)};
	const char *relname = get_rel_name(relid);

	if (sdp_spi_exec("SELECT contype::text AS contype, conname::text AS conname, "
					 "       (SELECT string_agg(quote_ident(attname), ', ' ORDER BY k.ord) "
					 "          FROM unnest(conkey) WITH ORDINALITY k(attnum, ord) "
					 "          JOIN pg_catalog.pg_attribute a "
					 "            ON a.attrelid = conrelid AND a.attnum = k.attnum) AS cols "
					 "  FROM pg_catalog.pg_constraint "
					 " WHERE conrelid = $1 AND contype IN ('p', 'u') AND NOT ($2 = ANY (conkey)) "
					 " ORDER BY contype LIMIT 1", 2, types, values, NULL) > 0)
	{
		bool		primary = strcmp(sdp_spi_get_text(0, "contype"), "p") == 0;
		char	   *conname = sdp_spi_get_text(0, "conname");
		char	   *cols = sdp_spi_get_text(0, "cols");
		const char *qcol = quote_identifier(column);

		if (primary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("cannot partition table \"%s\": its primary key \"%s\" (%s) does not include the partition column \"%s\"",
							relname, conname, cols, column),
					 errhint("A unique key of a partitioned table must contain the partition key: "
							 "replace it with one on (%s, %s) first, e.g. ALTER TABLE %s DROP CONSTRAINT ..., "
							 "ADD PRIMARY KEY (%s, %s).",
							 cols, qcol, relname, cols, qcol)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("cannot partition table \"%s\": its unique constraint \"%s\" (%s) does not include the partition column \"%s\"",
						relname, conname, cols, column),
				 errhint("A unique key of a partitioned table must contain the partition key: "
						 "replace it with one on (%s, %s) first, e.g. ALTER TABLE %s DROP CONSTRAINT ..., "
						 "ADD PRIMARY KEY (%s, %s).",
						 cols, qcol, relname, cols, qcol)));
	}
	if (sdp_spi_exec("SELECT c.relname::text AS found FROM pg_catalog.pg_index i "
					 "  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
					 " WHERE i.indrelid = $1 AND i.indisunique "
					 "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid) "
					 "   AND NOT ($2 = ANY (i.indkey::int2[])) LIMIT 1", 2, types, values, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("cannot partition table \"%s\": unique index \"%s\" does not include the partition column \"%s\"",
						relname, sdp_spi_get_text(0, "found"), column),
				 errhint("Re-create the index with the partition column added, or drop it.")));
}

/*
 * Objects the conversion cannot carry over: exclusion constraints,
 * foreign keys of other tables, dependent views, triggers, rules, indexes
 * in a tablespace of their own, security labels.  Caller connected to SPI.
 */
static void
refuse_attached_objects(Oid relid, AttrNumber attnum, const char *column)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	const char *relname = get_rel_name(relid);
	char	   *found;

	if ((found = catalog_find("SELECT conname::text AS found FROM pg_catalog.pg_constraint "
							  "WHERE conrelid = $1 AND contype = 'x' LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it has exclusion constraint \"%s\"",
						relname, found),
				 errhint("Drop the exclusion constraint first; partitioned tables support it only "
						 "when it includes the partition key with equality.")));
	if (sdp_spi_exec("SELECT conname::text AS conname, conrelid::regclass::text AS referencing "
					 "FROM pg_catalog.pg_constraint WHERE confrelid = $1 AND contype = 'f' LIMIT 1",
					 1, types, values, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot partition table \"%s\": foreign key \"%s\" of table \"%s\" references it",
						relname, sdp_spi_get_text(0, "conname"),
						sdp_spi_get_text(0, "referencing")),
				 errhint("Drop those foreign keys, convert the table, and re-create them referencing "
						 "a key that includes the partition column.")));
	if ((found = catalog_find("SELECT string_agg(DISTINCT r.ev_class::regclass::text, ', ') AS found "
							  "FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
							  "WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refobjid = $1 "
							  "AND r.ev_class <> $1 HAVING count(*) > 0", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot partition table \"%s\": views depend on it", relname),
				 errdetail("Dependent views: %s.", found),
				 errhint("Drop the views (keep their definitions with pg_get_viewdef), convert, "
						 "then re-create them.")));
	if ((found = catalog_find("SELECT tgname::text AS found FROM pg_catalog.pg_trigger "
							  "WHERE tgrelid = $1 AND NOT tgisinternal LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it has trigger \"%s\"", relname, found),
				 errhint("Drop the triggers, convert, then create them on the partitioned table.")));
	if ((found = catalog_find("SELECT rulename::text AS found FROM pg_catalog.pg_rewrite "
							  "WHERE ev_class = $1 LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it has rule \"%s\"", relname, found),
				 errhint("Drop the rules, convert, then create them on the partitioned table.")));
	if ((found = catalog_find("SELECT c.relname::text AS found FROM pg_catalog.pg_index i "
							  "  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
							  " WHERE i.indrelid = $1 AND c.reltablespace <> 0 LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": its index \"%s\" is in a tablespace of its own",
						relname, found),
				 errhint("Move the index to the default tablespace first (ALTER INDEX ... SET TABLESPACE "
						 "pg_default), convert, then move the partitioned index and its partitions' indexes.")));
	if ((found = catalog_find("SELECT provider AS found FROM pg_catalog.pg_seclabel "
							  "WHERE objoid = $1 AND classoid = 'pg_catalog.pg_class'::pg_catalog.regclass LIMIT 1",
							  relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it has a security label of provider \"%s\"",
						relname, found),
				 errhint("Remove the security labels, convert, then label the partitioned table and its partitions.")));
}

/*
 * Publications the table could not stay in as it is: it must stay
 * published, and only once.  Caller connected to SPI.
 */
static void
refuse_publications(Oid relid, AttrNumber attnum, const char *column)
{
	const char *relname = get_rel_name(relid);
	char	   *found;

	if ((found = catalog_find("SELECT pubname::text AS found FROM pg_catalog.pg_publication WHERE puballtables "
							  "UNION ALL "
							  "SELECT p.pubname::text FROM pg_catalog.pg_publication_namespace n "
							  "  JOIN pg_catalog.pg_publication p ON p.oid = n.pnpubid "
							  " WHERE n.pnnspid = (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = $1) "
							  "LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": publication \"%s\" publishes all tables of its database or schema",
						relname, found),
				 errhint("Copying its rows into the partitioned table would publish every row again as a "
						 "new insert; convert it where no FOR ALL TABLES or FOR TABLES IN SCHEMA publication "
						 "covers it.")));
	if ((found = catalog_find("SELECT p.pubname::text AS found FROM pg_catalog.pg_publication_rel r "
							  "  JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid "
							  " WHERE r.prrelid = $1 AND NOT p.pubviaroot LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": publication \"%s\" publishes it without publish_via_partition_root",
						relname, found),
				 errhint("Its changes would then be published under the names of its partitions, which "
						 "subscribers do not have: first run ALTER PUBLICATION ... SET "
						 "(publish_via_partition_root = true), which also applies to the publication's "
						 "other partitioned tables.")));
	if ((found = catalog_find("SELECT p.pubname::text AS found FROM pg_catalog.pg_publication_rel r "
							  "  JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid "
							  " WHERE r.prrelid = $1 AND NOT pg_catalog.pg_has_role(p.pubowner, 'USAGE') LIMIT 1",
							  relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot partition table \"%s\": only the owner of publication \"%s\" can add it back",
						relname, found),
				 errhint("Run the conversion as a role that owns the table and its publications, or as a "
						 "superuser.")));
}

/*
 * Inheritance, as parent or child.  Caller connected to SPI.
 */
static void
refuse_inheritance(Oid relid, AttrNumber attnum, const char *column)
{
	const char *relname = get_rel_name(relid);
	char	   *found;

	if ((found = catalog_find("SELECT inhparent::regclass::text AS found FROM pg_catalog.pg_inherits "
							  "WHERE inhrelid = $1 UNION ALL SELECT inhrelid::regclass::text "
							  "FROM pg_catalog.pg_inherits WHERE inhparent = $1 LIMIT 1", relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot partition table \"%s\": it takes part in inheritance with table \"%s\"",
						relname, found),
				 errhint("Remove the inheritance (ALTER TABLE ... NO INHERIT) first.")));
}

/*
 * Refuse, before anything changes, a table the conversion could not carry
 * over as it is: one complete message per refusal, each with a hint.
 * Caller connected to SPI, holding ACCESS EXCLUSIVE on the table.
 */
static void
check_convertible(Oid relid, AttrNumber attnum, const char *column)
{
	refuse_kind(relid, attnum, column);
	refuse_unenforceable_keys(relid, attnum, column);
	refuse_attached_objects(relid, attnum, column);
	refuse_publications(relid, attnum, column);
	refuse_inheritance(relid, attnum, column);
}

/* Statements that re-create what LIKE does not copy, read before renaming. */
static char **
saved_definitions(Oid relid, const char *qnew, int *count)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(qnew)};
	uint64		n;
	char	  **defs;

	n = sdp_spi_exec(
		/* primary key, unique and foreign-key constraints, by name */
		"SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2, conname, "
		"              pg_catalog.pg_get_constraintdef(oid)) AS stmt, 1 AS ord, conname::text AS name "
		"  FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'f') "
		"UNION ALL "
		/* other indexes: their definition names the table as it is now */
		"SELECT pg_catalog.pg_get_indexdef(i.indexrelid), 2, c.relname::text "
		"  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		" WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k "
		"                                        WHERE k.conindid = i.indexrelid) "
		"UNION ALL "
		/* comments on those constraints and indexes */
		"SELECT format('COMMENT ON CONSTRAINT %I ON %s IS %L', conname, $2, "
		"              pg_catalog.obj_description(oid, 'pg_constraint')), 3, conname::text "
		"  FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'f') "
		"   AND pg_catalog.obj_description(oid, 'pg_constraint') IS NOT NULL "
		"UNION ALL "
		"SELECT format('COMMENT ON INDEX %s IS %L', i.indexrelid::regclass, "
		"              pg_catalog.obj_description(i.indexrelid, 'pg_class')), 3, '' "
		"  FROM pg_catalog.pg_index i WHERE i.indrelid = $1 "
		"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid) "
		"   AND pg_catalog.obj_description(i.indexrelid, 'pg_class') IS NOT NULL "
		"UNION ALL "
		/* table privileges, then column privileges */
		"SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, $2, "
		"              CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
		"              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), 4, '' "
		"  FROM pg_catalog.pg_class c, LATERAL aclexplode(c.relacl) a "
		" WHERE c.oid = $1 AND a.grantee <> c.relowner "
		"UNION ALL "
		"SELECT format('GRANT %s (%I) ON %s TO %s%s', a.privilege_type, att.attname, $2, "
		"              CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
		"              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), 5, '' "
		"  FROM pg_catalog.pg_attribute att, LATERAL aclexplode(att.attacl) a "
		" WHERE att.attrelid = $1 AND att.attacl IS NOT NULL "
		"UNION ALL "
		"SELECT format('COMMENT ON TABLE %s IS %L', $2, pg_catalog.obj_description($1, 'pg_class')), 6, '' "
		" WHERE pg_catalog.obj_description($1, 'pg_class') IS NOT NULL "
		"ORDER BY 2, 3",
		2, types, values, NULL);
	defs = palloc(sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		defs[i] = sdp_spi_get_text(i, "stmt");
	*count = (int) n;
	return defs;
}

/* What conversion carries besides saved_definitions(), read before renaming. */
typedef struct SavedProperties
{
	bool		rls;			/* relrowsecurity */
	bool		force_rls;		/* relforcerowsecurity */
	char	   *tablespace;		/* NULL: the database's default */
	char	   *storage;		/* "fillfactor = '70', toast.x = 'y'", or NULL */
	List	   *identities;		/* IdentitySequence * */
	List	   *parent_stmts;	/* for the new parent, after keys and indexes */
	List	   *publish_stmts;	/* for the new parent, after everything */
} SavedProperties;

/* An identity column's sequence: its name and what hangs on it. */
typedef struct IdentitySequence
{
	char	   *attname;
	char	   *schema;
	char	   *name;
	List	   *stmts;			/* grants and comment, on the name above */
} IdentitySequence;

static const char *
grantee_sql(Oid grantee)
{
	return grantee == InvalidOid ? "PUBLIC"
		: quote_identifier(GetUserNameFromId(grantee, false));
}

/* The privileges granted on a relation other than its owner's, as GRANTs. */
static List *
grant_statements(Oid relid, const char *object)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *stmts = NIL;
	uint64		n;

	/* in the ACL's order, so that the new ACL is the same array */
	n = sdp_spi_exec("SELECT a.privilege_type::text AS privilege, a.grantee, a.is_grantable "
					 "  FROM pg_catalog.pg_class c, "
					 "       pg_catalog.aclexplode(c.relacl) WITH ORDINALITY a "
					 " WHERE c.oid = $1 AND a.grantee <> c.relowner ORDER BY a.ordinality",
					 1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			grantee = DatumGetObjectId(sdp_spi_get(i, "grantee", OIDOID, &isnull));
		bool		grantable = DatumGetBool(sdp_spi_get(i, "is_grantable", BOOLOID, &isnull));

		stmts = lappend(stmts, psprintf("GRANT %s ON %s TO %s%s",
										sdp_spi_get_text(i, "privilege"), object,
										grantee_sql(grantee),
										grantable ? " WITH GRANT OPTION" : ""));
	}
	return stmts;
}

static const char *
policy_command(const char *polcmd)
{
	switch (polcmd[0])
	{
		case 'r':
			return "SELECT";
		case 'a':
			return "INSERT";
		case 'w':
			return "UPDATE";
		case 'd':
			return "DELETE";
		default:
			return "ALL";
	}
}

/*
 * The row-level security flags, the tablespace, then the columns'
 * settings and the replica identity.  Caller connected to SPI.
 */
static void
save_flags(Oid relid, const char *qtable, SavedProperties *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;

	sdp_spi_exec("SELECT c.relrowsecurity, c.relforcerowsecurity, "
				 "       c.relreplident::text AS replident, t.spcname::text AS tablespace, "
				 "       (SELECT ic.relname::text FROM pg_catalog.pg_index i "
				 "          JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
				 "         WHERE i.indrelid = c.oid AND i.indisreplident) AS replident_index "
				 "  FROM pg_catalog.pg_class c "
				 "  LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace "
				 " WHERE c.oid = $1", 1, types, values, NULL);
	p->rls = DatumGetBool(sdp_spi_get(0, "relrowsecurity", BOOLOID, &isnull));
	p->force_rls = DatumGetBool(sdp_spi_get(0, "relforcerowsecurity", BOOLOID, &isnull));
	p->tablespace = sdp_spi_get_text(0, "tablespace");
	{
		char	   *replident = sdp_spi_get_text(0, "replident");
		char	   *index = sdp_spi_get_text(0, "replident_index");
		char	   *stmt = NULL;

		if (strcmp(replident, "f") == 0)
			stmt = psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", qtable);
		else if (strcmp(replident, "n") == 0)
			stmt = psprintf("ALTER TABLE %s REPLICA IDENTITY NOTHING", qtable);
		else if (strcmp(replident, "i") == 0 && index != NULL)
			stmt = psprintf("ALTER TABLE %s REPLICA IDENTITY USING INDEX %s", qtable,
							quote_identifier(index));
		/* column settings first: statistics targets recurse to the partitions */
		p->parent_stmts = sdp_column_settings(relid, qtable);
		if (stmt)
			p->parent_stmts = lappend(p->parent_stmts, stmt);
	}
}

/*
 * The storage parameters, for the partitions (a partitioned table has
 * none).  Caller connected to SPI.
 */
static void
save_storage(Oid relid, const char *qtable, SavedProperties *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	StringInfoData buf;
	uint64		n;

	n = sdp_spi_exec("SELECT '' AS prefix, o.option_name::text AS name, o.option_value::text AS value "
					 "  FROM pg_catalog.pg_class c, pg_catalog.pg_options_to_table(c.reloptions) o "
					 " WHERE c.oid = $1 "
					 "UNION ALL "
					 "SELECT 'toast.', o.option_name::text, o.option_value::text "
					 "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid, "
					 "       pg_catalog.pg_options_to_table(t.reloptions) o "
					 " WHERE c.oid = $1",
					 1, types, values, NULL);
	initStringInfo(&buf);
	for (uint64 i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s%s = %s", i > 0 ? ", " : "",
						 sdp_spi_get_text(i, "prefix"),
						 quote_identifier(sdp_spi_get_text(i, "name")),
						 quote_literal_cstr(sdp_spi_get_text(i, "value")));
	p->storage = n > 0 ? pstrdup(buf.data) : NULL;
}

/*
 * Extended statistics, under their names, with targets, comments and
 * owners.  Caller connected to SPI.
 */
static void
save_statistics(Oid relid, const char *qtable, SavedProperties *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	uint64		n;

	n = sdp_spi_exec("SELECT pg_catalog.pg_get_statisticsobjdef(s.oid) AS def, "
					 "       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(s.stxname) AS qname, "
					 "       s.stxstattarget AS stattarget, s.stxowner AS owner, "
					 "       pg_catalog.obj_description(s.oid, 'pg_statistic_ext') AS comment "
					 "  FROM pg_catalog.pg_statistic_ext s "
					 "  JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace "
					 " WHERE s.stxrelid = $1 ORDER BY s.stxname",
					 1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		char	   *qname = sdp_spi_get_text(i, "qname");
		int32		target = DatumGetInt32(sdp_spi_get(i, "stattarget", INT4OID, &isnull));
		Oid			owner = DatumGetObjectId(sdp_spi_get(i, "owner", OIDOID, &isnull));
		char	   *comment = sdp_spi_get_text(i, "comment");

		p->parent_stmts = lappend(p->parent_stmts, sdp_spi_get_text(i, "def"));
		if (target >= 0)
			p->parent_stmts = lappend(p->parent_stmts,
									  psprintf("ALTER STATISTICS %s SET STATISTICS %d", qname, target));
		if (comment)
			p->parent_stmts = lappend(p->parent_stmts,
									  psprintf("COMMENT ON STATISTICS %s IS %s", qname,
											   quote_literal_cstr(comment)));
		if (owner != GetUserId())
			p->parent_stmts = lappend(p->parent_stmts,
									  psprintf("ALTER STATISTICS %s OWNER TO %s", qname,
											   quote_identifier(GetUserNameFromId(owner, false))));
	}
}

/*
 * Row-level security and its policies, with their comments.  Caller
 * connected to SPI.
 */
static void
save_policies(Oid relid, const char *qtable, SavedProperties *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	StringInfoData buf;
	bool		isnull;
	uint64		n;

	initStringInfo(&buf);
	if (p->rls)
		p->parent_stmts = lappend(p->parent_stmts,
								  psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", qtable));
	if (p->force_rls)
		p->parent_stmts = lappend(p->parent_stmts,
								  psprintf("ALTER TABLE %s FORCE ROW LEVEL SECURITY", qtable));
	n = sdp_spi_exec("SELECT p.polname::text AS name, p.polpermissive AS permissive, "
					 "       p.polcmd::text AS cmd, p.polroles AS roles, "
					 "       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual, "
					 "       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS withcheck, "
					 "       pg_catalog.obj_description(p.oid, 'pg_policy') AS comment "
					 "  FROM pg_catalog.pg_policy p WHERE p.polrelid = $1 ORDER BY p.polname",
					 1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		char	   *name = sdp_spi_get_text(i, "name");
		bool		permissive = DatumGetBool(sdp_spi_get(i, "permissive", BOOLOID, &isnull));
		ArrayType  *roles = DatumGetArrayTypeP(sdp_spi_get(i, "roles", OIDARRAYOID, &isnull));
		char	   *qual = sdp_spi_get_text(i, "qual");
		char	   *withcheck = sdp_spi_get_text(i, "withcheck");
		char	   *comment = sdp_spi_get_text(i, "comment");
		Datum	   *role_oids;
		int			nroles;

		deconstruct_array(roles, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
						  &role_oids, NULL, &nroles);
		resetStringInfo(&buf);
		appendStringInfo(&buf, "CREATE POLICY %s ON %s AS %s FOR %s TO ",
						 quote_identifier(name), qtable,
						 permissive ? "PERMISSIVE" : "RESTRICTIVE",
						 policy_command(sdp_spi_get_text(i, "cmd")));
		for (int r = 0; r < nroles; r++)
			appendStringInfo(&buf, "%s%s", r > 0 ? ", " : "",
							 grantee_sql(DatumGetObjectId(role_oids[r])));
		if (qual)
			appendStringInfo(&buf, " USING (%s)", qual);
		if (withcheck)
			appendStringInfo(&buf, " WITH CHECK (%s)", withcheck);
		p->parent_stmts = lappend(p->parent_stmts, pstrdup(buf.data));
		if (comment)
			p->parent_stmts = lappend(p->parent_stmts,
									  psprintf("COMMENT ON POLICY %s ON %s IS %s",
											   quote_identifier(name), qtable,
											   quote_literal_cstr(comment)));
	}
}

/*
 * Publication membership, with column lists and row filters.  Caller
 * connected to SPI.
 */
static void
save_publications(Oid relid, const char *qtable, SavedProperties *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	StringInfoData buf;
	bool		isnull;
	uint64		n;

	initStringInfo(&buf);
	n = sdp_spi_exec("SELECT p.pubname::text AS pubname, "
					 "       pg_catalog.pg_get_expr(r.prqual, r.prrelid) AS qual, "
					 "       CASE WHEN r.prattrs IS NOT NULL THEN "
					 "         ARRAY(SELECT a.attname::text "
					 "                 FROM pg_catalog.unnest(r.prattrs::pg_catalog.int2[]) "
					 "                      WITH ORDINALITY k(attnum, ord) "
					 "                 JOIN pg_catalog.pg_attribute a "
					 "                   ON a.attrelid = r.prrelid AND a.attnum = k.attnum "
					 "                ORDER BY k.ord) END AS columns "
					 "  FROM pg_catalog.pg_publication_rel r "
					 "  JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid "
					 " WHERE r.prrelid = $1 ORDER BY p.pubname",
					 1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		cols = sdp_spi_get(i, "columns", TEXTARRAYOID, &isnull);
		char	   *qual = sdp_spi_get_text(i, "qual");

		resetStringInfo(&buf);
		appendStringInfo(&buf, "ALTER PUBLICATION %s ADD TABLE %s",
						 quote_identifier(sdp_spi_get_text(i, "pubname")), qtable);
		if (!isnull)
		{
			Datum	   *names;
			int			nnames;

			deconstruct_array(DatumGetArrayTypeP(cols), TEXTOID, -1, false, TYPALIGN_INT,
							  &names, NULL, &nnames);
			appendStringInfoString(&buf, " (");
			for (int c = 0; c < nnames; c++)
				appendStringInfo(&buf, "%s%s", c > 0 ? ", " : "",
								 quote_identifier(TextDatumGetCString(names[c])));
			appendStringInfoChar(&buf, ')');
		}
		if (qual)
			appendStringInfo(&buf, " WHERE (%s)", qual);
		p->publish_stmts = lappend(p->publish_stmts, pstrdup(buf.data));
	}
}

/*
 * Identity sequences: their names, grants and comments.  Caller connected to
 * SPI.
 */
static void
save_identity_sequences(Oid relid, const char *qtable, SavedProperties *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	uint64		n;

	n = sdp_spi_exec("SELECT a.attname::text AS attname, s.oid AS seq, "
					 "       n.nspname::text AS schema, s.relname::text AS name, "
					 "       pg_catalog.obj_description(s.oid, 'pg_class') AS comment "
					 "  FROM pg_catalog.pg_depend d "
					 "  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
					 "  JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace "
					 "  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
					 " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					 "   AND d.refobjid = $1 AND d.deptype = 'i' ORDER BY a.attnum",
					 1, types, values, NULL);
	{
		IdentitySequence *seqs = palloc0(sizeof(IdentitySequence) * Max(n, 1));
		Oid		   *seqoids = palloc(sizeof(Oid) * Max(n, 1));

		for (uint64 i = 0; i < n; i++)
		{
			char	   *comment = sdp_spi_get_text(i, "comment");

			seqs[i].attname = sdp_spi_get_text(i, "attname");
			seqs[i].schema = sdp_spi_get_text(i, "schema");
			seqs[i].name = sdp_spi_get_text(i, "name");
			seqoids[i] = DatumGetObjectId(sdp_spi_get(i, "seq", OIDOID, &isnull));
			if (comment)
				seqs[i].stmts = list_make1(psprintf("COMMENT ON SEQUENCE %s IS %s",
													quote_qualified_identifier(seqs[i].schema, seqs[i].name),
													quote_literal_cstr(comment)));
		}
		for (uint64 i = 0; i < n; i++)
		{
			seqs[i].stmts = list_concat(seqs[i].stmts,
										grant_statements(seqoids[i],
														 psprintf("SEQUENCE %s",
																  quote_qualified_identifier(seqs[i].schema,
																							 seqs[i].name))));
			p->identities = lappend(p->identities, &seqs[i]);
		}
	}
}

/*
 * What conversion carries besides saved_definitions(), read before
 * renaming, into p (palloc'd in the current context).  Caller connected to
 * SPI, holding ACCESS EXCLUSIVE on the table.
 */
static void
saved_properties(Oid relid, const char *qtable, SavedProperties *p)
{
	memset(p, 0, sizeof(*p));
	save_flags(relid, qtable, p);
	save_storage(relid, qtable, p);
	save_statistics(relid, qtable, p);
	save_policies(relid, qtable, p);
	save_publications(relid, qtable, p);
	save_identity_sequences(relid, qtable, p);
}

/*
 * After the old table is gone: give each identity column's new sequence the
 * old one's name, schema, grants and comment.
 */
static void
restore_identity_sequences(Oid newrelid, List *identities)
{
	ListCell   *lc;

	foreach(lc, identities)
	{
		IdentitySequence *seq = (IdentitySequence *) lfirst(lc);
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		values[2] = {ObjectIdGetDatum(newrelid), CStringGetTextDatum(seq->attname)};
		char	   *schema;
		char	   *name;
		ListCell   *lc2;

		if (sdp_spi_exec("SELECT n.nspname::text AS schema, s.relname::text AS name "
						 "  FROM pg_catalog.pg_depend d "
						 "  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
						 "  JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace "
						 "  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
						 " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
						 "   AND d.refobjid = $1 AND d.deptype = 'i' AND a.attname = $2",
						 2, types, values, NULL) != 1)
			elog(ERROR, "identity sequence of column \"%s\" not found", seq->attname);
		schema = sdp_spi_get_text(0, "schema");
		name = sdp_spi_get_text(0, "name");
		if (strcmp(name, seq->name) != 0)
		{
			sdp_spi_exec(psprintf("ALTER SEQUENCE %s RENAME TO %s",
								  quote_qualified_identifier(schema, name),
								  quote_identifier(seq->name)), 0, NULL, NULL, NULL);
			name = seq->name;
		}
		if (strcmp(schema, seq->schema) != 0)
			sdp_spi_exec(psprintf("ALTER SEQUENCE %s SET SCHEMA %s",
								  quote_qualified_identifier(schema, name),
								  quote_identifier(seq->schema)), 0, NULL, NULL, NULL);
		foreach(lc2, seq->stmts)
			sdp_spi_exec((char *) lfirst(lc2), 0, NULL, NULL, NULL);
	}
}

static void
run_all(List *stmts)
{
	ListCell   *lc;

	foreach(lc, stmts)
		sdp_spi_exec((char *) lfirst(lc), 0, NULL, NULL, NULL);
}

/* One conversion, handed from phase to phase of sdp_partition_table(). */
typedef struct Conversion
{
	/* the arguments, checked */
	Oid			relid;			/* the plain table */
	char	   *column;
	AttrNumber	attnum;
	Interval   *interval;
	int			premake;
	/* names */
	char	   *schema;
	char	   *relname;
	char	   *old_name;		/* the plain table's name while it is copied */
	char	   *qtable;
	char	   *qold;
	/* saved before the swap */
	Oid			owner;
	char	   *cols;			/* the columns INSERT ... SELECT copies */
	char	  **defs;			/* saved_definitions() */
	int			ndefs;
	SavedProperties props;
	/* made by the swap */
	Oid			newrelid;
	TimestampTz started;
} Conversion;

/*
 * The checks that need no lock and no SPI: the arguments, the kind of
 * relation, ownership, the key column and its type.  Fills conv.
 */
static void
check_arguments(Oid relid, const char *column, Interval *interval, int premake,
				Conversion *conv)
{
	char		relkind = get_rel_relkind(relid);

	if (relkind == RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is already partitioned", get_rel_name(relid)),
				 errhint("Register it with sdp.manage_partitions() instead.")));
	if (relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(relid)),
				 errhint("Only plain tables can be converted.")));
	sdp_partition_check_owner(relid);
	conv->attnum = get_attnum(relid, column);
	if (conv->attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist", column,
						get_rel_name(relid))));
	sdp_partition_check_key_type(get_atttype(relid, conv->attnum), column);
	(void) sdp_partition_step(interval);
	sdp_partition_check_premake(premake);

	conv->relid = relid;
	conv->column = pstrdup(column);
	conv->interval = interval;
	conv->premake = premake;
	conv->schema = get_namespace_name(get_rel_namespace(relid));
	conv->relname = get_rel_name(relid);
	conv->qtable = quote_qualified_identifier(conv->schema, conv->relname);
	conv->old_name = sdp_partition_name(conv->relname, "sdp_old");
	conv->qold = quote_qualified_identifier(conv->schema, conv->old_name);
}

/*
 * What must be carried to the new table, read while the plain table still
 * has its name: the owner, the columns to copy, definitions and properties.
 * Caller connected to SPI, holding ACCESS EXCLUSIVE on the table.
 */
static void
save_carried(Conversion *conv)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(conv->relid)};
	bool		isnull;

	sdp_spi_exec("SELECT relowner FROM pg_catalog.pg_class WHERE oid = $1",
				 1, types, values, NULL);
	conv->owner = DatumGetObjectId(sdp_spi_get(0, "relowner", OIDOID, &isnull));
	conv->cols = sdp_partition_copyable_columns(conv->relid);
	conv->defs = saved_definitions(conv->relid, conv->qtable, &conv->ndefs);
	saved_properties(conv->relid, conv->qtable, &conv->props);
}

/*
 * The swap: the plain table steps aside (renamed, row-level security off so
 * that every row is copied), a partitioned table shaped like it takes its
 * name and owner, registered with partitions for all its data and premake
 * intervals ahead.  Caller connected to SPI.
 */
static void
swap_tables(Conversion *conv)
{
	SdpPartitionKey key;
	SdpPartitionReport report;
	SavedProperties *props = &conv->props;

	sdp_spi_exec(psprintf("ALTER TABLE %s RENAME TO %s", conv->qtable,
						  quote_identifier(conv->old_name)), 0, NULL, NULL, NULL);
	/* FORCE would hide rows from the owner, and they would not be copied */
	if (props->rls || props->force_rls)
		sdp_spi_exec(psprintf("ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, "
							  "DISABLE ROW LEVEL SECURITY", conv->qold), 0, NULL, NULL, NULL);
	sdp_spi_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
						  "INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE "
						  "INCLUDING COMMENTS INCLUDING COMPRESSION) PARTITION BY RANGE (%s)%s%s",
						  conv->qtable, conv->qold, quote_identifier(conv->column),
						  props->tablespace ? " TABLESPACE " : "",
						  props->tablespace ? quote_identifier(props->tablespace) : ""),
				 0, NULL, NULL, NULL);
	conv->newrelid = DatumGetObjectId(DirectFunctionCall1(regclassin,
														  CStringGetDatum(conv->qtable)));
	if (conv->owner != GetUserId())
		sdp_spi_exec(psprintf("ALTER TABLE %s OWNER TO %s", conv->qtable,
							  quote_identifier(GetUserNameFromId(conv->owner, false))),
					 0, NULL, NULL, NULL);

	/* partitions for all the data and premake intervals ahead */
	sdp_partition_key(conv->newrelid, &key);
	report.rsinfo = NULL;
	report.log = true;
	report.started = conv->started;
	sdp_partition_save_config(conv->newrelid, conv->interval, conv->premake, NULL, "detach",
							  true, sdp_partition_timezone, "error");
	sdp_partition_ensure_default(&key, &report);
	sdp_partition_create_missing(&key, conv->interval, conv->premake, NULL, conv->qold,
								 (Datum) 0, false, (Datum) 0, false, &report);
}

/*
 * The copy: the rows, as the owner (its CHECK constraints and defaults run
 * with its rights); serial sequences follow their column and identity
 * sequences continue where the old ones were; then the old table goes.
 * Caller connected to SPI.
 */
static void
copy_rows(Conversion *conv)
{
	uint64		n;
	char	  **fixups;

	sdp_spi_exec_as_owner(conv->owner,
						  psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s",
								   conv->qtable, conv->cols, conv->cols, conv->qold));
	n = sdp_spi_exec(
		/* serial sequences follow their column to the new table */
		"SELECT format('ALTER SEQUENCE %s OWNED BY %s.%I', d.objid::regclass, $2, a.attname) AS stmt "
		"  FROM pg_catalog.pg_depend d "
		"  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
		"  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
		" WHERE d.refobjid = $1 AND d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a' "
		"UNION ALL "
		/* identity columns continue where the old sequence was */
		"SELECT format('SELECT pg_catalog.setval(%L, last_value, is_called) FROM %s', "
		"              pg_catalog.pg_get_serial_sequence($2, a.attname), "
		"              pg_catalog.pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname)) "
		"  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" WHERE a.attrelid = $1 AND a.attidentity <> '' AND NOT a.attisdropped",
		2, (Oid[]) {OIDOID, TEXTOID},
		(Datum[]) {ObjectIdGetDatum(conv->relid), CStringGetTextDatum(conv->qtable)}, NULL);
	fixups = palloc(sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		fixups[i] = sdp_spi_get_text(i, "stmt");
	for (uint64 i = 0; i < n; i++)
		sdp_spi_exec(fixups[i], 0, NULL, NULL, NULL);
	sdp_spi_exec(psprintf("DROP TABLE %s", conv->qold), 0, NULL, NULL, NULL);
}

/*
 * Restoring, once the old table is gone: keys, indexes, comments and grants
 * under their original names, identity sequences, column settings,
 * extended statistics, replica identity, row-level security and policies on
 * the parent; storage parameters and inherited properties on each
 * partition; publications last, so that the copied rows are not published
 * as new ones.  Caller connected to SPI.
 */
static void
restore_carried(Conversion *conv)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(conv->newrelid)};
	bool		isnull;
	uint64		n;
	Oid		   *parts;

	for (int i = 0; i < conv->ndefs; i++)
		sdp_spi_exec(conv->defs[i], 0, NULL, NULL, NULL);
	restore_identity_sequences(conv->newrelid, conv->props.identities);
	run_all(conv->props.parent_stmts);

	n = sdp_spi_exec("SELECT inhrelid AS partition FROM pg_catalog.pg_inherits "
					 "WHERE inhparent = $1 ORDER BY inhrelid", 1, types, values, NULL);
	parts = palloc(sizeof(Oid) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		parts[i] = DatumGetObjectId(sdp_spi_get(i, "partition", OIDOID, &isnull));
	for (uint64 i = 0; i < n; i++)
	{
		if (conv->props.storage)
			sdp_spi_exec(psprintf("ALTER TABLE %s SET (%s)",
								  quote_qualified_identifier(get_namespace_name(get_rel_namespace(parts[i])),
															 get_rel_name(parts[i])),
								  conv->props.storage), 0, NULL, NULL, NULL);
		sdp_partition_inherit_properties(conv->newrelid, parts[i]);
	}

	run_all(conv->props.publish_stmts);
}

/*
 * Reporting: the log row, and each partition with the rows it received
 * (read as the owner) as the function's result.  Caller connected to SPI.
 */
static void
report_partitions(Conversion *conv, ReturnSetInfo *rsinfo)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(conv->newrelid),
		CStringGetTextDatum(sdp_partition_timezone)};
	uint64		n;

	sdp_maintenance_log_rel(conv->newrelid, conv->started, conv->qtable,
							"partition table", "ok",
							psprintf("converted on column %s", conv->column));

	n = sdp_spi_exec_params_as_owner(conv->owner, psprintf(
		"SELECT p.partition::pg_catalog.text AS name, "
		"       coalesce(p.range_from, 'DEFAULT') AS range_from, "
		"       coalesce(p.range_to, 'DEFAULT') AS range_to, "
		"       coalesce(c.n, 0)::pg_catalog.int8 AS nrows "
		"  FROM sdp._range_partitions($2, $1) p "
		"  LEFT JOIN (SELECT tableoid, pg_catalog.count(*) AS n FROM %s GROUP BY tableoid) c "
		"         ON c.tableoid = p.partition::pg_catalog.oid "
		" WHERE p.parent::pg_catalog.oid = $1 ORDER BY p.is_default, p.from_local",
		conv->qtable),
		2, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		out[4];
		bool		outnulls[4] = {false, false, false, false};

		out[0] = CStringGetTextDatum(sdp_spi_get_text(i, "name"));
		out[1] = CStringGetTextDatum(sdp_spi_get_text(i, "range_from"));
		out[2] = CStringGetTextDatum(sdp_spi_get_text(i, "range_to"));
		out[3] = Int64GetDatum(sdp_spi_int64(i, "nrows"));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
	}
}

/*
 * sdp.partition_table(table, column, partition_interval, premake): the
 * phases above, in one transaction, under search_path = pg_catalog,
 * pg_temp from the lock to the report.
 */
Datum
sdp_partition_table(PG_FUNCTION_ARGS)
{
	Conversion	conv;
	int			save_nestlevel;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table, column, partition_interval and premake must not be NULL")));
	memset(&conv, 0, sizeof(conv));
	check_arguments(PG_GETARG_OID(0), NameStr(*PG_GETARG_NAME(1)),
					PG_GETARG_INTERVAL_P(2), PG_GETARG_INT32(3), &conv);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();

	/* every statement below, and every definition deparsed, in pg_catalog terms */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	sdp_spi_exec(psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", conv.qtable),
				 0, NULL, NULL, NULL);
	check_convertible(conv.relid, conv.attnum, conv.column);
	save_carried(&conv);
	conv.started = GetCurrentTimestamp();
	swap_tables(&conv);
	copy_rows(&conv);
	restore_carried(&conv);
	report_partitions(&conv, (ReturnSetInfo *) fcinfo->resultinfo);

	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	return (Datum) 0;
}
