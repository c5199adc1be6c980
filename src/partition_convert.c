/*-------------------------------------------------------------------------
 *
 * partition_convert.c
 *	  sdp.partition_table(): converts a plain table into a range-partitioned
 *	  table of the same name, in one transaction (all or nothing).
 *
 *	  Carried over: columns with their defaults, NOT NULL and CHECK
 *	  constraints, generated and identity columns (the identity continues
 *	  where it was), storage and compression, column and table comments,
 *	  primary key, unique and foreign-key constraints and indexes under their
 *	  original names, table and column privileges, the owner, and sequences
 *	  owned by its columns.
 *
 *	  Refused before anything changes, each with a hint: a primary key or
 *	  unique constraint/index without the partition column (PostgreSQL
 *	  cannot enforce it across partitions), exclusion constraints, foreign
 *	  keys of other tables that reference it, views or rules that depend on
 *	  it, triggers, row-level security policies, inheritance.
 *
 *	  Locks: ACCESS EXCLUSIVE on the table for the whole transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "partition_manager.h"
#include "sdp_config.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(sdp_partition_table);

/* Run a catalog check; if it returns a row, refuse with its text. */
static void
refuse_if(const char *sql, Oid relid, int sqlstate, const char *what,
		  const char *hint)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *found = sdp_spi_scalar_text(sql, 1, types, values);

	if (found != NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("cannot partition table %s: %s %s", get_rel_name(relid),
						what, found),
				 errhint("%s", hint)));
}

static void
check_convertible(Oid relid, AttrNumber attnum, const char *column)
{
	Oid			types[2] = {OIDOID, INT2OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(attnum)};
	char	   *bad;

	/* keys PostgreSQL could no longer enforce */
	bad = sdp_spi_scalar_text(
		"SELECT format('%s %I (%s)', CASE contype WHEN 'p' THEN 'primary key' "
		"       ELSE 'unique constraint' END, conname, "
		"       (SELECT string_agg(quote_ident(attname), ', ' ORDER BY k.ord) "
		"          FROM unnest(conkey) WITH ORDINALITY k(attnum, ord) "
		"          JOIN pg_catalog.pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.attnum)) "
		"  FROM pg_catalog.pg_constraint "
		" WHERE conrelid = $1 AND contype IN ('p', 'u') AND NOT ($2 = ANY (conkey)) "
		" ORDER BY contype LIMIT 1", 2, types, values);
	if (bad != NULL)
	{
		char	   *cols = pstrdup(strchr(bad, '(') + 1);

		cols[strlen(cols) - 1] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("cannot partition table %s: its %s does not include the partition column \"%s\"",
						get_rel_name(relid), bad, column),
				 errhint("A unique key of a partitioned table must contain the partition key: "
						 "replace it with one on (%s, %s) first, e.g. ALTER TABLE %s DROP CONSTRAINT ..., "
						 "ADD PRIMARY KEY (%s, %s).",
						 cols, quote_identifier(column), get_rel_name(relid), cols,
						 quote_identifier(column))));
	}
	bad = sdp_spi_scalar_text(
		"SELECT quote_ident(c.relname) FROM pg_catalog.pg_index i "
		"  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		" WHERE i.indrelid = $1 AND i.indisunique "
		"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid) "
		"   AND NOT ($2 = ANY (i.indkey::int2[])) LIMIT 1", 2, types, values);
	if (bad != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("cannot partition table %s: unique index %s does not include the partition column \"%s\"",
						get_rel_name(relid), bad, column),
				 errhint("Re-create the index with the partition column added, or drop it.")));

	refuse_if("SELECT quote_ident(conname) FROM pg_catalog.pg_constraint "
			  "WHERE conrelid = $1 AND contype = 'x' LIMIT 1",
			  relid, ERRCODE_FEATURE_NOT_SUPPORTED, "it has exclusion constraint",
			  "Drop the exclusion constraint first; partitioned tables support it only "
			  "when it includes the partition key with equality.");
	refuse_if("SELECT format('%s (on %s)', quote_ident(conname), conrelid::regclass) "
			  "FROM pg_catalog.pg_constraint WHERE confrelid = $1 AND contype = 'f' LIMIT 1",
			  relid, ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
			  "another table references it through foreign key",
			  "Drop those foreign keys, convert the table, and re-create them referencing "
			  "a key that includes the partition column.");
	refuse_if("SELECT string_agg(DISTINCT r.ev_class::regclass::text, ', ') "
			  "FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
			  "WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refobjid = $1 "
			  "AND r.ev_class <> $1 HAVING count(*) > 0",
			  relid, ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, "views depend on it:",
			  "Drop the views (keep their definitions with pg_get_viewdef), convert, "
			  "then re-create them.");
	refuse_if("SELECT quote_ident(tgname) FROM pg_catalog.pg_trigger "
			  "WHERE tgrelid = $1 AND NOT tgisinternal LIMIT 1",
			  relid, ERRCODE_FEATURE_NOT_SUPPORTED, "it has trigger",
			  "Drop the triggers, convert, then create them on the partitioned table.");
	refuse_if("SELECT quote_ident(polname) FROM pg_catalog.pg_policy WHERE polrelid = $1 LIMIT 1",
			  relid, ERRCODE_FEATURE_NOT_SUPPORTED, "it has row-level security policy",
			  "Drop the policies, convert, then create them on the partitioned table.");
	refuse_if("SELECT inhparent::regclass::text FROM pg_catalog.pg_inherits "
			  "WHERE inhrelid = $1 UNION ALL SELECT inhrelid::regclass::text "
			  "FROM pg_catalog.pg_inherits WHERE inhparent = $1 LIMIT 1",
			  relid, ERRCODE_FEATURE_NOT_SUPPORTED, "it takes part in inheritance with",
			  "Remove the inheritance (ALTER TABLE ... NO INHERIT) first.");
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
		"              pg_catalog.pg_get_constraintdef(oid)), 1 AS ord, conname::text AS name "
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
	defs = sdp_spi_copy_rows(1);
	*count = (int) n;
	return defs;
}

/*
 * sdp.partition_table(table, column, partition_interval, premake)
 */
Datum
sdp_partition_table(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *column;
	Interval   *interval;
	int			premake;
	char		relkind;
	AttrNumber	attnum;
	Oid			typid;
	char	   *schema;
	char	   *relname;
	char	   *old_name;
	char	   *qtable;
	char	   *qold;
	char	   *cols;
	char	  **defs;
	int			ndefs;
	SdpPartitionKey key;
	SdpPartitionReport report;
	Oid			owner;
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	bool		isnull;
	uint64		n;
	Oid			newrelid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table, column, partition_interval and premake must not be NULL")));
	relid = PG_GETARG_OID(0);
	column = NameStr(*PG_GETARG_NAME(1));
	interval = PG_GETARG_INTERVAL_P(2);
	premake = PG_GETARG_INT32(3);

	relkind = get_rel_relkind(relid);
	if (relkind == RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table %s is already partitioned", get_rel_name(relid)),
				 errhint("Register it with sdp.manage_partitions() instead.")));
	if (relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(relid)),
				 errhint("Only plain tables can be converted.")));
	sdp_partition_check_owner(relid);
	attnum = get_attnum(relid, column);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table %s does not exist", column,
						get_rel_name(relid))));
	typid = get_atttype(relid, attnum);
	sdp_partition_check_key_type(typid, column);
	(void) sdp_partition_step(interval);
	sdp_partition_check_premake(premake);

	schema = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	qtable = quote_qualified_identifier(schema, relname);
	old_name = sdp_partition_name(relname, "sdp_old");
	qold = quote_qualified_identifier(schema, old_name);
	owner = InvalidOid;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();

	sdp_spi_exec(psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", qtable),
				 0, NULL, NULL, NULL);
	check_convertible(relid, attnum, column);

	values[0] = ObjectIdGetDatum(relid);
	sdp_spi_exec("SELECT relowner FROM pg_catalog.pg_class WHERE oid = $1",
				 1, types, values, NULL);
	owner = DatumGetObjectId(sdp_spi_datum(0, 1, &isnull));
	cols = pstrdup(sdp_spi_scalar_text(
		"SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) "
		"FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 "
		"AND NOT attisdropped AND attgenerated = ''", 1, types, values));
	defs = saved_definitions(relid, qtable, &ndefs);

	/* the new table takes the name; the old one keeps the data until copied */
	sdp_spi_exec(psprintf("ALTER TABLE %s RENAME TO %s", qtable,
						  quote_identifier(old_name)), 0, NULL, NULL, NULL);
	sdp_spi_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
						  "INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE "
						  "INCLUDING COMMENTS INCLUDING COMPRESSION) PARTITION BY RANGE (%s)",
						  qtable, qold, quote_identifier(column)), 0, NULL, NULL, NULL);
	newrelid = DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(qtable)));
	if (owner != GetUserId())
		sdp_spi_exec(psprintf("ALTER TABLE %s OWNER TO %s", qtable,
							  quote_identifier(GetUserNameFromId(owner, false))),
					 0, NULL, NULL, NULL);

	/* partitions for all the data and premake intervals ahead */
	sdp_partition_key(newrelid, &key);
	report.rsinfo = NULL;
	report.log = true;
	report.started = GetCurrentTimestamp();
	sdp_partition_save_config(newrelid, interval, premake, NULL, "detach");
	sdp_partition_ensure_default(&key, &report);
	sdp_partition_create_missing(&key, interval, premake, qold,
								 (Datum) 0, false, (Datum) 0, false, &report);

	/* the data, then what hangs on the old table */
	sdp_spi_exec(psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s",
						  qtable, cols, cols, qold), 0, NULL, NULL, NULL);
	values[0] = ObjectIdGetDatum(relid);
	n = sdp_spi_exec(
		/* serial sequences follow their column to the new table */
		"SELECT format('ALTER SEQUENCE %s OWNED BY %s.%I', d.objid::regclass, $2, a.attname) "
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
		(Datum[]) {ObjectIdGetDatum(relid), CStringGetTextDatum(qtable)}, NULL);
	{
		char	  **fixups = sdp_spi_copy_rows(1);

		for (uint64 i = 0; i < n; i++)
			sdp_spi_exec(fixups[i], 0, NULL, NULL, NULL);
	}
	sdp_spi_exec(psprintf("DROP TABLE %s", qold), 0, NULL, NULL, NULL);

	/* keys, indexes, comments and grants, under their original names */
	for (int i = 0; i < ndefs; i++)
		sdp_spi_exec(defs[i], 0, NULL, NULL, NULL);

	sdp_maintenance_log(report.started, qtable, "partition table", "ok",
						psprintf("converted on column %s", column));

	/* report each partition with the rows it received */
	values[0] = ObjectIdGetDatum(newrelid);
	n = sdp_spi_exec(psprintf(
		"SELECT p.partition::text, coalesce(p.range_from, 'DEFAULT'), "
		"       coalesce(p.range_to, 'DEFAULT'), coalesce(c.n, 0) "
		"  FROM sdp._range_partitions(%s, $1) p "
		"  LEFT JOIN (SELECT tableoid, count(*) AS n FROM %s GROUP BY tableoid) c "
		"         ON c.tableoid = p.partition "
		" WHERE p.parent = $1 ORDER BY p.is_default, p.from_local",
		quote_literal_cstr(sdp_partition_timezone), qtable),
		1, types, values, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
		Datum		out[4];
		bool		outnulls[4] = {false, false, false, false};

		out[0] = CStringGetTextDatum(sdp_spi_value(i, 1));
		out[1] = CStringGetTextDatum(sdp_spi_value(i, 2));
		out[2] = CStringGetTextDatum(sdp_spi_value(i, 3));
		out[3] = Int64GetDatum(strtoll(sdp_spi_value(i, 4), NULL, 10));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
	}
	SPI_finish();
	return (Datum) 0;
}
