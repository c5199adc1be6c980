/*-------------------------------------------------------------------------
 *
 * stats_file.c
 *	  The file that keeps the statistics across a clean restart,
 *	  pg_stat/smart_dairy_perf.stat: its header, its trailer and CRC, and
 *	  reading it whole.  What is in between belongs to the stores, each of
 *	  which writes and reads its own part (sdp_store_save/_load in
 *	  profiler_store.c, sdp_nplus1_save/_load in nplus1_store.c,
 *	  sdp_slow_save/_load in slow_queries.c, sdp_predicates_save/_load in
 *	  predicate_store.c);
 *	  smart_dairy_perf.c calls them in the file's order when the postmaster
 *	  exits cleanly (and smart_dairy_perf.save is on) and when it creates
 *	  shared memory.  The file is removed once read.  After a crash, or an
 *	  immediate stop (no shutdown checkpoint in pg_control), no file is
 *	  written, and the one read at start is gone: the restart begins
 *	  empty, since counters from before a crash cannot be trusted to be
 *	  complete.
 *
 *	  File layout (stats_file.h): a header (magic, format version, the sizes
 *	  that shape an entry, the counts, the reset time and evictions), the
 *	  query entries, the N+1 patterns, the slow-query ring (its own count
 *	  first), the observed predicates (likewise), and a trailer: the magic
 *	  again and a CRC-32C of every byte before the CRC.
 *
 *	  Nothing from a damaged file may reach shared memory: sdp.snapshot()
 *	  would copy an impossible value (a negative count, a NaN time, a text
 *	  that is not valid in its encoding) into tables that then cannot be
 *	  dumped and restored.  So the whole file is read into memory and checked
 *	  before anything is loaded: magic and version, then the CRC (here),
 *	  then every value (in the stores: counts non-negative, times finite and
 *	  non-negative, min <= mean <= max, histogram buckets adding up to the
 *	  calls, timestamps in range, keys as the hooks build them, texts within
 *	  bounds, NUL-free and valid in the encoding they were recorded in).
 *	  Only then is it parsed a second time, by the same code, to fill the
 *	  tables.  A missing file is a normal empty start; a file failing any
 *	  check is ignored whole, with one LOG line naming the reason and an
 *	  empty start, never a failed start.  The file is not portable: it holds
 *	  the structures as laid out in memory, and the header's sizes reject a
 *	  build that differs.
 *
 *	  Runs only in the postmaster (no other process attaches yet or any
 *	  more), so it takes no locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "sdp_config.h"
#include "stats_file.h"

#define SDP_FILE_MAGIC		0x53445031	/* "SDP1" */
#define SDP_FILE_VERSION	3		/* 2: CRC trailer, pattern encoding;
										 * 3: planning/JIT counters, slow
										 * ring, observed predicates, the
										 * entries' search_path and sample,
										 * N+1 loops, tags, parent rows */

#define SDP_STATS_TMPFILE	SDP_STATS_FILE ".tmp"

typedef struct StatsTrailer
{
	uint32		magic;
	pg_crc32c	crc;			/* of every byte of the file before it */
} StatsTrailer;

/* ----------------------------------------------------------------------
 * Writing
 * ----------------------------------------------------------------------
 */

/*
 * Start the file (under a temporary name) with header, whose other fields
 * the caller has filled (padding zeroed).  False when it could not: then
 * it is reported and nothing is left behind.  Postmaster only.
 */
bool
sdp_stats_file_create(SdpStatsWriter *w, SdpStatsHeader *header)
{
	w->file = AllocateFile(SDP_STATS_TMPFILE, PG_BINARY_W);
	if (w->file == NULL)
	{
		sdp_stats_file_abandon(w);
		return false;
	}
	INIT_CRC32C(w->crc);
	header->magic = SDP_FILE_MAGIC;
	header->version = SDP_FILE_VERSION;
	if (!sdp_stats_file_write(w, header, sizeof(*header)))
	{
		sdp_stats_file_abandon(w);
		return false;
	}
	return true;
}

/* Write len bytes and add them to the running CRC; false on error (errno set). */
bool
sdp_stats_file_write(SdpStatsWriter *w, const void *data, size_t len)
{
	COMP_CRC32C(w->crc, data, len);
	return fwrite(data, 1, len, w->file) == len;
}

/* The trailer, then the file takes its name; a failure is reported. */
void
sdp_stats_file_finish(SdpStatsWriter *w)
{
	StatsTrailer trailer;

	trailer.magic = SDP_FILE_MAGIC;
	COMP_CRC32C(w->crc, &trailer.magic, sizeof(trailer.magic));
	FIN_CRC32C(w->crc);
	trailer.crc = w->crc;
	if (fwrite(&trailer, sizeof(trailer), 1, w->file) != 1)
	{
		sdp_stats_file_abandon(w);
		return;
	}
	if (FreeFile(w->file))
	{
		w->file = NULL;
		sdp_stats_file_abandon(w);
		return;
	}
	(void) durable_rename(SDP_STATS_TMPFILE, SDP_STATS_FILE, LOG);
}

/* A write failed (errno tells why): report it and remove the partial file. */
void
sdp_stats_file_abandon(SdpStatsWriter *w)
{
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", SDP_STATS_TMPFILE)));
	if (w->file)
		FreeFile(w->file);
	unlink(SDP_STATS_TMPFILE);
}

/* ----------------------------------------------------------------------
 * Reading
 * ----------------------------------------------------------------------
 */

static void
report_ignored(const char *problem)
{
	ereport(LOG,
			(errmsg("ignoring saved statistics in \"%s\": %s",
					SDP_STATS_FILE, problem),
			 errdetail("Starting with empty query statistics.")));
}

/*
 * Check what does not need the entries: the header, then the CRC, then the
 * header's shapes against expected's (sdp_store_describe()).  The magic
 * and the version come first, so that a file of an older format (which has
 * no CRC) is reported as such.  Returns what is wrong, or NULL.
 */
static const char *
check_file(const char *data, Size len, SdpStatsHeader *header,
		   const SdpStatsHeader *expected)
{
	StatsTrailer trailer;
	pg_crc32c	crc;

	if (len < sizeof(SdpStatsHeader))
		return "the file is truncated";
	memcpy(header, data, sizeof(SdpStatsHeader));
	if (header->magic != SDP_FILE_MAGIC)
		return "the file is not a smart_dairy_perf statistics file";
	if (header->version != SDP_FILE_VERSION)
		return "the file was written by another version of smart_dairy_perf";

	if (len < sizeof(SdpStatsHeader) + sizeof(StatsTrailer))
		return "the file is truncated";
	memcpy(&trailer, data + len - sizeof(StatsTrailer), sizeof(trailer));
	if (trailer.magic != SDP_FILE_MAGIC)
		return "the file is truncated";
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len - sizeof(pg_crc32c));
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, trailer.crc))
		return "checksum mismatch";

	if (header->key_size != expected->key_size ||
		header->counters_size != expected->counters_size ||
		header->hist_buckets != expected->hist_buckets)
		return "the file was written by another version of smart_dairy_perf";
	if (header->nentries < 0 || header->npatterns < 0 ||
		!IS_VALID_TIMESTAMP(header->stats_reset) ||
		header->evictions > (uint64) PG_INT64_MAX)
		return "impossible value in the header";
	return NULL;
}

/*
 * Read the file whole and remove it, then check its header and CRC.  True
 * with *header filled and r at the first entry; false when there is no
 * file (a normal empty start) or it cannot be used (reported, one LOG
 * line).  r->data is palloc'd in the current memory context until
 * sdp_stats_file_close().  Postmaster only.
 */
bool
sdp_stats_file_open(SdpStatsReader *r, SdpStatsHeader *header,
					const SdpStatsHeader *expected)
{
	FILE	   *file;
	struct stat st;
	char	   *data = NULL;
	const char *problem = NULL;

	file = AllocateFile(SDP_STATS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			goto read_error;
		return false;
	}

	if (fstat(fileno(file), &st) != 0)
		goto read_error;
	if (st.st_size > (off_t) (MaxAllocHugeSize - 1))
		problem = "the file is too large";
	else if ((data = MemoryContextAllocExtended(CurrentMemoryContext,
												st.st_size + 1,
												MCXT_ALLOC_HUGE |
												MCXT_ALLOC_NO_OOM)) == NULL)
		problem = "there is not enough memory to read it";
	else if (fread(data, 1, st.st_size, file) != (size_t) st.st_size)
	{
		if (ferror(file))
			goto read_error;
		problem = "the file is truncated";
	}
	if (problem == NULL)
		problem = check_file(data, st.st_size, header, expected);

	FreeFile(file);
	unlink(SDP_STATS_FILE);
	r->data = data;
	r->len = problem == NULL ? st.st_size - sizeof(StatsTrailer) : 0;
	r->pos = sizeof(SdpStatsHeader);
	if (problem != NULL)
	{
		sdp_stats_file_close(r, problem);
		return false;
	}
	return true;

read_error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not read file \"%s\": %m", SDP_STATS_FILE),
			 errdetail("Starting with empty query statistics.")));
	if (file)
	{
		FreeFile(file);
		unlink(SDP_STATS_FILE);
	}
	if (data)
		pfree(data);
	return false;
}

/* Back to the first entry, for the second pass. */
void
sdp_stats_file_rewind(SdpStatsReader *r)
{
	r->pos = sizeof(SdpStatsHeader);
}

/* Copy the next len bytes into dest; false if fewer are left. */
bool
sdp_stats_file_read(SdpStatsReader *r, void *dest, Size len)
{
	if (r->len - r->pos < len)
		return false;
	memcpy(dest, r->data + r->pos, len);
	r->pos += len;
	return true;
}

/* The next len bytes (0 <= len), in place in r->data; NULL if fewer are left. */
const char *
sdp_stats_file_read_text(SdpStatsReader *r, int32 len)
{
	const char *text = r->data + r->pos;

	if (len < 0 || r->len - r->pos < (Size) len)
		return NULL;
	r->pos += len;
	return text;
}

/* After the last store's part: NULL, or what is wrong when bytes are left. */
const char *
sdp_stats_file_check_end(SdpStatsReader *r)
{
	if (r->pos != r->len)
		return "the file is longer than its header says";
	return NULL;
}

/* Done with the contents; problem (or NULL) is what made them unusable. */
void
sdp_stats_file_close(SdpStatsReader *r, const char *problem)
{
	if (r->data)
		pfree(r->data);
	r->data = NULL;
	if (problem != NULL)
		report_ignored(problem);
}

/* ----------------------------------------------------------------------
 * Checks the stores share
 * ----------------------------------------------------------------------
 */

/* NUL-terminated, valid in encoding, and hashing to the key's appid.  No lock. */
bool
sdp_stats_valid_appname(const char *appname, uint64 appid, int encoding)
{
	size_t		len = strnlen(appname, NAMEDATALEN);

	return len < NAMEDATALEN &&
		pg_verify_mbstr(encoding, appname, (int) len, true) &&
		hash_bytes_extended((const unsigned char *) appname, len, 0) == appid;
}

/*
 * The length of the prefix of a saved text that fits in max_query_text,
 * which may have shrunk since the file was written; cut at a character.
 */
int
sdp_stats_clip_text(int encoding, const char *text, int len)
{
	if (len <= sdp_max_query_text)
		return len;
	return pg_encoding_mbcliplen(encoding, text, len, sdp_max_query_text);
}
