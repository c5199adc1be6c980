/*-------------------------------------------------------------------------
 *
 * spi_util.h
 *	  Small SPI wrappers shared by the maintenance modules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_SPI_UTIL_H
#define SDP_SPI_UTIL_H

#include "executor/spi.h"

extern uint64 sdp_spi_exec(const char *sql, int nargs, Oid *argtypes,
						   Datum *values, const char *nulls);
extern char *sdp_spi_value(uint64 row, int col);
extern char **sdp_spi_copy_rows(int ncols);
extern Datum sdp_spi_datum(uint64 row, int col, bool *isnull);
extern bool sdp_spi_bool(uint64 row, const char *name);
extern int64 sdp_spi_int64(uint64 row, const char *name);
extern Datum sdp_spi_get(uint64 row, const char *colname, Oid typid,
						 bool *isnull);
extern char *sdp_spi_get_text(uint64 row, const char *colname);
extern char *sdp_spi_scalar_text(const char *sql, int nargs, Oid *argtypes,
								 Datum *values);
extern ErrorData *sdp_run_in_subtransaction(void (*fn) (void *arg), void *arg);
extern ErrorData *sdp_abort_keeping_error(MemoryContext cxt);

#endif							/* SDP_SPI_UTIL_H */
