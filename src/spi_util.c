/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *	  SPI wrappers for the maintenance modules: run a statement with
 *	  parameters and fail loudly, read a result cell, run one item of a
 *	  batch in its own subtransaction, end a background process's failed
 *	  transaction keeping its error.  Callers connect and finish SPI
 *	  themselves, and copy what must outlive SPI_finish.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/resowner.h"

#include "spi_util.h"

/*
 * Run sql with parameters; any failure is an error.  Returns rows processed;
 * the result is in SPI_tuptable until the next statement.  Caller connected
 * to SPI.
 */
uint64
sdp_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			 const char *nulls)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
											false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed (%s): %s",
			 SPI_result_code_string(ret), sql);
	return SPI_processed;
}

/*
 * The last result's first ncols columns as text, row after row
 * (rows[i * ncols + c]), copied into the current memory context so that they
 * survive the next SPI statement.  SPI_processed rows.
 */
char	  **
sdp_spi_copy_rows(int ncols)
{
	uint64		n = SPI_processed;
	char	  **rows = palloc(sizeof(char *) * ncols * Max(n, 1));

	for (uint64 i = 0; i < n; i++)
		for (int c = 0; c < ncols; c++)
		{
			char	   *v = sdp_spi_value(i, c + 1);

			rows[i * ncols + c] = v ? pstrdup(v) : NULL;
		}
	return rows;
}

/* A cell of the last result as text (NULL for SQL NULL), in SPI memory.  Caller connected to SPI. */
char *
sdp_spi_value(uint64 row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/* A cell of the last result by position, in SPI memory.  Caller connected to SPI. */
Datum
sdp_spi_datum(uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/* A named boolean cell of the last result; NULL reads as false.  Caller connected to SPI. */
bool
sdp_spi_bool(uint64 row, const char *name)
{
	bool		isnull;
	Datum		d = sdp_spi_get(row, name, BOOLOID, &isnull);

	return !isnull && DatumGetBool(d);
}

/* A named bigint cell of the last result; NULL reads as 0.  Caller connected to SPI. */
int64
sdp_spi_int64(uint64 row, const char *name)
{
	bool		isnull;
	Datum		d = sdp_spi_get(row, name, INT8OID, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * The cell of the last result in the column named colname, which must be of
 * type typid (checked: a query edited later cannot shift columns silently).
 * By-reference values point into SPI memory.  Caller connected to SPI.
 */
Datum
sdp_spi_get(uint64 row, const char *colname, Oid typid, bool *isnull)
{
	int			fnumber = SPI_fnumber(SPI_tuptable->tupdesc, colname);

	if (fnumber <= 0)
		elog(ERROR, "query result has no column \"%s\"", colname);
	if (SPI_gettypeid(SPI_tuptable->tupdesc, fnumber) != typid)
		elog(ERROR, "column \"%s\" of the query result is not of type %u",
			 colname, typid);
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 fnumber, isnull);
}

/* A text cell by column name, copied into the current context, or NULL.  Caller connected to SPI. */
char *
sdp_spi_get_text(uint64 row, const char *colname)
{
	bool		isnull;
	Datum		d = sdp_spi_get(row, colname, TEXTOID, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Run sql; the first column of its first row as text in SPI memory, or NULL.  Caller connected to SPI. */
char *
sdp_spi_scalar_text(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	if (sdp_spi_exec(sql, nargs, argtypes, values, NULL) == 0)
		return NULL;
	return sdp_spi_value(0, 1);
}

/*
 * Run fn(arg) in its own subtransaction, so that one failing item of a
 * maintenance batch rolls back alone.  Returns NULL on success; on failure
 * the subtransaction is rolled back and the error returned, copied into the
 * caller's memory context.  A query cancel (statement_timeout, the user's
 * ^C, shutdown) is not an item's failure: it is raised again to stop the
 * whole batch.  The caller must be connected to SPI.
 */
ErrorData *
sdp_run_in_subtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}

/*
 * In the PG_CATCH block of a background process's own transaction (the
 * worker's steps, a concurrent detach): copy the error into cxt, clear it
 * and abort the transaction, interrupts held meanwhile.  Returns the copy;
 * the caller is outside any transaction afterwards.
 */
ErrorData *
sdp_abort_keeping_error(MemoryContext cxt)
{
	ErrorData  *edata;

	HOLD_INTERRUPTS();
	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	RESUME_INTERRUPTS();
	return edata;
}
