/*-------------------------------------------------------------------------
 *
 * maintenance_log.c
 *	  sdp.maintenance_log: the row every maintenance action writes (a
 *	  partition made or removed, a refresh, a maintenance step, a table
 *	  skipped), and the one way to report a failed item: a row with the
 *	  failure, then a WARNING whose detail is the underlying error.
 *
 *	  Owns no state and takes no lock of its own.  Rows are written with
 *	  SQL through SPI as the current user, in the caller's
 *	  (sub)transaction: a row written in a subtransaction that rolls back
 *	  is gone with it, which is why a failure is logged after its
 *	  subtransaction has been rolled back.  Used by partition_manager.c,
 *	  partition_convert.c, matview_manager.c, maintenance.c and
 *	  maintenance_worker.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "maintenance_log.h"
#include "run_as_owner.h"
#include "spi_util.h"

/*
 * Append a row to sdp.maintenance_log as the current user.  relid, when
 * valid, names the table the row is about: its owner may read the row.
 * Caller connected to SPI, in a transaction.
 */
void
sdp_maintenance_log_rel(Oid relid, TimestampTz started, const char *object,
						const char *action, const char *status,
						const char *message)
{
	Oid			types[6] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', message ? ' ' : 'n', 'n'};

	values[0] = TimestampTzGetDatum(started);
	values[1] = CStringGetTextDatum(object);
	values[2] = CStringGetTextDatum(action);
	values[3] = CStringGetTextDatum(status);
	values[4] = message ? CStringGetTextDatum(message) : (Datum) 0;
	values[5] = (Datum) 0;
	if (OidIsValid(relid) && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
	{
		values[5] = ObjectIdGetDatum(sdp_relation_owner(relid));
		nulls[5] = ' ';
	}
	sdp_spi_exec("INSERT INTO sdp.maintenance_log "
				 "(started, object, action, status, message, object_owner) "
				 "VALUES ($1, $2, $3, $4, $5, $6)", 6, types, values, nulls);
}

/*
 * A row of sdp.maintenance_log about no one table (readers of all stats).
 * Caller connected to SPI, in a transaction.
 */
void
sdp_maintenance_log(TimestampTz started, const char *object,
					const char *action, const char *status, const char *message)
{
	sdp_maintenance_log_rel(InvalidOid, started, object, action, status, message);
}

/*
 * A failed item: a row of sdp.maintenance_log with status (usually
 * "error") and message logged (failure when NULL), then a WARNING with the
 * message fmt and failure, the underlying error, as its detail.  Caller
 * connected to SPI, in a transaction (not the failed subtransaction, which
 * must have been rolled back).
 */
void
sdp_maintenance_log_failure(Oid relid, TimestampTz started, const char *object,
							const char *action, const char *status,
							const char *logged, const char *failure,
							const char *fmt,...)
{
	StringInfoData buf;

	sdp_maintenance_log_rel(relid, started, object, action, status,
							logged ? logged : failure);

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ereport(WARNING,
			(errmsg_internal("%s", buf.data),
			 errdetail_internal("%s", failure)));
	pfree(buf.data);
}
