/*-------------------------------------------------------------------------
 *
 * partition_bounds.c
 *	  The partition manager's rules, checked before anything is changed:
 *	  which tables it accepts (range-partitioned on one date, timestamp or
 *	  timestamptz column, owned by the caller), which intervals (1 day,
 *	  1 week, 1 month, 3 months, 1 year), premake and retention values; and
 *	  how partitions are named (<parent>_pYYYY_MM, _pYYYY_MM_DD, _pYYYY).
 *
 *	  Every refusal is an ereport(ERROR) with an errcode and a hint, raised
 *	  before any catalog change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_partitioned_table.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "partitioning/partdefs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"

#include "partition_bounds.h"
#include "sdp_config.h"

static const SdpPartitionStep steps[] = {
	{"1 day", "day", "YYYY_MM_DD"},
	{"1 week", "week", "YYYY_MM_DD"},
	{"1 month", "month", "YYYY_MM"},
	{"3 months", "quarter", "YYYY_MM"},
	{"1 year", "year", "YYYY"}
};

/*
 * The supported step an interval stands for.  Compared field by field, not
 * with interval equality, which would take '30 days' for '1 month'.
 * Returns static storage; ERROR for an unsupported interval.  No SPI.
 */
const SdpPartitionStep *
sdp_partition_step(Interval *iv)
{
	if (iv != NULL && iv->time == 0)
	{
		if (iv->month == 0 && iv->day == 1)
			return &steps[0];
		if (iv->month == 0 && iv->day == 7)
			return &steps[1];
		if (iv->month == 1 && iv->day == 0)
			return &steps[2];
		if (iv->month == 3 && iv->day == 0)
			return &steps[3];
		if (iv->month == 12 && iv->day == 0)
			return &steps[4];
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unsupported partition interval \"%s\"",
					iv ? DatumGetCString(DirectFunctionCall1(interval_out,
															 IntervalPGetDatum(iv)))
					: "NULL"),
			 errhint("Use one of: 1 day, 1 week, 1 month, 3 months, 1 year.")));
	return NULL;				/* keep compiler quiet */
}

/* ERROR unless the current user owns relid (or is a superuser).  No SPI, no lock. */
void
sdp_partition_check_owner(Oid relid)
{
	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", get_rel_name(relid)),
				 errhint("Only the table's owner or a superuser can manage its partitions.")));
}

/* ERROR unless typid is date, timestamp or timestamptz.  No SPI, no lock. */
void
sdp_partition_check_key_type(Oid typid, const char *column)
{
	if (typid != DATEOID && typid != TIMESTAMPOID && typid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("partition key column \"%s\" has type %s", column,
						format_type_be(typid)),
				 errhint("The key must be of type date, timestamp or timestamptz.")));
}

/* ERROR unless 0 < premake <= smart_dairy_perf.partition_max_create.  No SPI. */
void
sdp_partition_check_premake(int premake)
{
	if (premake <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("premake must be positive, not %d", premake),
				 errhint("premake is how many intervals ahead of now to keep partitions ready, e.g. 3.")));
	if (premake > sdp_partition_max_create)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("premake %d is more than smart_dairy_perf.partition_max_create (%d)",
						premake, sdp_partition_max_create),
				 errhint("premake is how many intervals ahead of now to keep partitions ready, e.g. 3; raise smart_dairy_perf.partition_max_create for more.")));
}

/* ERROR unless retention (NULL: none) is positive and mode is detach or drop.  No SPI. */
void
sdp_partition_check_retention(Interval *retention, const char *mode)
{
	if (retention != NULL &&
		(retention->time < 0 || retention->day < 0 || retention->month < 0 ||
		 (retention->time == 0 && retention->day == 0 && retention->month == 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention must be a positive interval"),
				 errhint("Use NULL to keep every partition, or e.g. '12 months'.")));
	if (mode == NULL || (strcmp(mode, "detach") != 0 && strcmp(mode, "drop") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown retention mode \"%s\"", mode ? mode : "NULL"),
				 errhint("Use 'detach' (keep old partitions as plain tables) or 'drop'.")));
}

/*
 * Check that relid is a table the partition manager can keep and describe
 * its key.  Takes AccessShareLock on the table for the rest of the
 * transaction.
 */
void
sdp_partition_key(Oid relid, SdpPartitionKey *key)
{
	Relation	rel = table_open(relid, AccessShareLock);
	PartitionKey pkey;
	AttrNumber	attnum;

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a partitioned table",
						RelationGetRelationName(rel)),
				 errhint("Convert a plain table with sdp.partition_table(table, column).")));

	pkey = RelationGetPartitionKey(rel);
	if (pkey->strategy != PARTITION_STRATEGY_RANGE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("\"%s\" is partitioned by %s, not by range",
						RelationGetRelationName(rel),
						pkey->strategy == PARTITION_STRATEGY_LIST ? "list" : "hash"),
				 errhint("The partition manager keeps range partitions over a date or time column.")));
	if (pkey->partnatts != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("\"%s\" has a partition key of %d columns",
						RelationGetRelationName(rel), pkey->partnatts),
				 errhint("The partition manager needs a key of one date or time column.")));
	attnum = pkey->partattrs[0];
	if (attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("\"%s\" is partitioned by an expression",
						RelationGetRelationName(rel)),
				 errhint("The partition manager needs a key of one date or time column.")));

	key->relid = relid;
	key->schema = get_namespace_name(RelationGetNamespace(rel));
	key->relname = pstrdup(RelationGetRelationName(rel));
	key->column = get_attname(relid, attnum, false);
	key->typid = pkey->parttypid[0];
	key->owner = rel->rd_rel->relowner;
	/* the setting until the configuration row names the zone */
	key->timezone = sdp_partition_timezone;
	sdp_partition_check_key_type(key->typid, key->column);
	table_close(rel, NoLock);
}

/* <relname>_<suffix>, cutting relname so the result fits in NAMEDATALEN; palloc'd. */
char *
sdp_partition_name(const char *relname, const char *suffix)
{
	int			room = NAMEDATALEN - 1 - strlen(suffix) - 1;
	int			len = pg_mbcliplen(relname, strlen(relname), Max(room, 1));

	return psprintf("%.*s_%s", len, relname, suffix);
}

/* SQL type a bound literal is cast to (a timestamp, for timestamptz keys); static. */
const char *
sdp_partition_bound_cast(Oid typid)
{
	return typid == DATEOID ? "date" : "timestamp";
}
