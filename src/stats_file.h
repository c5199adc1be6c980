/*-------------------------------------------------------------------------
 *
 * stats_file.h
 *	  The statistics file kept across a clean restart (stats_file.c): its
 *	  header, and how a store writes and reads its part of it.
 *
 *	  Layout: SdpStatsHeader, the query entries (profiler_store.c), the N+1
 *	  patterns (nplus1_store.c), the slow-query ring (slow_queries.c), the
 *	  observed predicates (predicate_store.c), then a trailer: the magic again and a
 *	  CRC-32C of every byte before the CRC.  smart_dairy_perf.c calls the
 *	  stores in that order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_STATS_FILE_H
#define SDP_STATS_FILE_H

#include <math.h>

#include "datatype/timestamp.h"
#include "port/pg_crc32c.h"

#define SDP_STATS_FILE		"pg_stat/smart_dairy_perf.stat"

/* the largest smart_dairy_perf.max_query_text: no saved text is longer */
#define SDP_MAX_SAVED_TEXT	65536

/* Written as laid out in memory: the file is not portable. */
typedef struct SdpStatsHeader
{
	uint32		magic;			/* set by sdp_stats_file_create() */
	uint32		version;		/* set by sdp_stats_file_create() */
	uint32		key_size;		/* the shapes of a query entry ... */
	uint32		counters_size;
	uint32		hist_buckets;	/* ... (sdp_store_describe()) */
	int64		nentries;		/* query entries that follow */
	int64		npatterns;		/* N+1 patterns after them */
	TimestampTz stats_reset;
	uint64		evictions;
} SdpStatsHeader;

/* a file being written, and the CRC of what was written so far */
typedef struct SdpStatsWriter
{
	FILE	   *file;
	pg_crc32c	crc;
} SdpStatsWriter;

/* a file read whole into memory, and how far parsing got */
typedef struct SdpStatsReader
{
	char	   *data;
	Size		len;			/* up to the trailer */
	Size		pos;
} SdpStatsReader;

/* writing, at the postmaster's clean exit */
extern bool sdp_stats_file_create(SdpStatsWriter *w, SdpStatsHeader *header);
extern bool sdp_stats_file_write(SdpStatsWriter *w, const void *data, size_t len);
extern void sdp_stats_file_finish(SdpStatsWriter *w);
extern void sdp_stats_file_abandon(SdpStatsWriter *w);

/* reading, when the postmaster creates shared memory */
extern bool sdp_stats_file_open(SdpStatsReader *r, SdpStatsHeader *header,
								const SdpStatsHeader *expected);
extern void sdp_stats_file_rewind(SdpStatsReader *r);
extern bool sdp_stats_file_read(SdpStatsReader *r, void *dest, Size len);
extern const char *sdp_stats_file_read_text(SdpStatsReader *r, int32 len);
extern const char *sdp_stats_file_check_end(SdpStatsReader *r);
extern void sdp_stats_file_close(SdpStatsReader *r, const char *problem);

/* checks of saved values, shared by the stores */
extern bool sdp_stats_valid_appname(const char *appname, uint64 appid,
									int encoding);
extern int	sdp_stats_clip_text(int encoding, const char *text, int len);

/* a bool as the compiler stores one: 0 or 1 */
static inline bool
sdp_stats_valid_bool(const bool *b)
{
	unsigned char v;

	memcpy(&v, b, 1);
	return v <= 1;
}

/* a time or usage as the stores accumulate it: finite and non-negative */
static inline bool
sdp_stats_valid_time(double v)
{
	return isfinite(v) && v >= 0.0;
}

/* a text length as the hooks record one */
static inline bool
sdp_stats_valid_text_len(int32 len)
{
	return len >= 0 && len <= SDP_MAX_SAVED_TEXT;
}

#endif							/* SDP_STATS_FILE_H */
