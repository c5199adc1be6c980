/*-------------------------------------------------------------------------
 *
 * profiler_persist.c
 *	  Keeps the profiler's statistics across a clean restart.  The postmaster
 *	  writes every entry to pg_stat/smart_dairy_perf.stat when it shuts down
 *	  cleanly (and smart_dairy_perf.save is on) and reads the file back when
 *	  it creates shared memory, then removes it.  After a crash no file is
 *	  written, and the one read at start is gone: the restart begins empty,
 *	  since counters from before a crash cannot be trusted to be complete.
 *
 *	  File layout: a header (magic, format version, the sizes that shape an
 *	  entry), the query entries, the N+1 patterns, and a trailer: the magic
 *	  again and a CRC-32C of every byte before the CRC.
 *
 *	  Nothing from a damaged file may reach shared memory: sdp.snapshot()
 *	  would copy an impossible value (a negative count, a NaN time, a text
 *	  that is not valid in its encoding) into tables that then cannot be
 *	  dumped and restored.  So the whole file is read into memory and checked
 *	  before anything is loaded: magic and version, then the CRC, then every
 *	  value (counts non-negative, times finite and non-negative, min <= mean
 *	  <= max, histogram buckets adding up to the calls, timestamps in range,
 *	  keys as the hooks build them, texts within bounds, NUL-free and valid
 *	  in the encoding they were recorded in).  Only then is it parsed a
 *	  second time, by the same code, to fill the tables.  A missing file is a
 *	  normal empty start; a file failing any check is ignored whole, with one
 *	  LOG line naming the reason and an empty start, never a failed start.
 *	  The file is not portable: it holds the structures as laid out in
 *	  memory, and the header's sizes reject a build that differs.
 *
 *	  Runs only in the postmaster (no other process attaches yet or any
 *	  more), so it takes no locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "nplus1.h"
#include "profiler_persist.h"
#include "profiler_store.h"
#include "sdp_config.h"

#define SDP_FILE_MAGIC		0x53445031	/* "SDP1" */
#define SDP_FILE_VERSION	2		/* 2: CRC trailer, pattern encoding */

/* the largest smart_dairy_perf.max_query_text: no saved text is longer */
#define SDP_MAX_SAVED_TEXT	65536

typedef struct PersistHeader
{
	uint32		magic;
	uint32		version;
	uint32		key_size;
	uint32		counters_size;
	uint32		hist_buckets;
	int64		nentries;
	int64		npatterns;
	TimestampTz stats_reset;
	uint64		evictions;
} PersistHeader;

/* What is stored of an N+1 pattern, apart from its texts. */
typedef struct PersistPattern
{
	SdpPatternKey key;
	SdpPatternCounters counters;
	char		appname[NAMEDATALEN];
	int32		kind;
	int32		encoding;
	int32		query_len;
	int32		parent_len;		/* -1: none */
} PersistPattern;

/* What is stored of an entry, apart from its text. */
typedef struct PersistEntry
{
	SdpEntryKey key;
	SdpCounters counters;
	double		usage;
	char		appname[NAMEDATALEN];
	int32		encoding;
	int32		query_len;
} PersistEntry;

typedef struct PersistTrailer
{
	uint32		magic;
	pg_crc32c	crc;			/* of every byte of the file before it */
} PersistTrailer;

/* Write len bytes and add them to the running CRC; false on error. */
static bool
write_bytes(FILE *file, const void *data, size_t len, pg_crc32c *crc)
{
	COMP_CRC32C(*crc, data, len);
	return fwrite(data, 1, len, file) == len;
}

void
sdp_persist_save(int code, Datum arg)
{
	const char *tmpfile = SDP_STATS_FILE ".tmp";
	FILE	   *file;
	PersistHeader header;
	PersistTrailer trailer;
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;
	SdpPattern *p;
	pg_crc32c	crc;

	/* after a crash, or with saving off, leave nothing behind */
	if (code != 0 || !sdp_save || sdp_store == NULL)
		return;

	file = AllocateFile(tmpfile, PG_BINARY_W);
	if (file == NULL)
		goto error;

	INIT_CRC32C(crc);
	memset(&header, 0, sizeof(header));
	header.magic = SDP_FILE_MAGIC;
	header.version = SDP_FILE_VERSION;
	header.key_size = sizeof(SdpEntryKey);
	header.counters_size = sizeof(SdpCounters);
	header.hist_buckets = SDP_HIST_BUCKETS;
	header.nentries = hash_get_num_entries(sdp_store_hash);
	header.npatterns = hash_get_num_entries(sdp_nplus1_table());
	header.stats_reset = sdp_store->stats_reset;
	header.evictions = pg_atomic_read_u64(&sdp_store->evictions);
	if (!write_bytes(file, &header, sizeof(header), &crc))
		goto error;

	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		PersistEntry pe;

		memset(&pe, 0, sizeof(pe));
		pe.key = entry->key;
		pe.counters = entry->counters;
		pe.usage = entry->usage;
		strlcpy(pe.appname, entry->appname, NAMEDATALEN);
		pe.encoding = entry->encoding;
		pe.query_len = entry->query_len;
		if (!write_bytes(file, &pe, sizeof(pe), &crc) ||
			!write_bytes(file, entry->query, pe.query_len, &crc))
		{
			hash_seq_term(&scan);
			goto error;
		}
	}

	hash_seq_init(&scan, sdp_nplus1_table());
	while ((p = hash_seq_search(&scan)) != NULL)
	{
		PersistPattern pp;
		int			parent_bytes = Max(p->parent_len, 0);

		memset(&pp, 0, sizeof(pp));
		pp.key = p->key;
		pp.counters = p->counters;
		strlcpy(pp.appname, p->appname, NAMEDATALEN);
		pp.kind = p->kind;
		pp.encoding = p->encoding;
		pp.query_len = p->query_len;
		pp.parent_len = p->parent_len;
		if (!write_bytes(file, &pp, sizeof(pp), &crc) ||
			!write_bytes(file, p->text, pp.query_len, &crc) ||
			!write_bytes(file, p->text + p->query_len + 1, parent_bytes, &crc))
		{
			hash_seq_term(&scan);
			goto error;
		}
	}

	trailer.magic = SDP_FILE_MAGIC;
	COMP_CRC32C(crc, &trailer.magic, sizeof(trailer.magic));
	FIN_CRC32C(crc);
	trailer.crc = crc;
	if (fwrite(&trailer, sizeof(trailer), 1, file) != 1)
		goto error;
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(tmpfile, SDP_STATS_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m",
					tmpfile)));
	if (file)
		FreeFile(file);
	unlink(tmpfile);
}

/* The file's contents, read whole, and how far parsing got. */
typedef struct FileReader
{
	const char *data;
	Size		len;			/* up to the trailer */
	Size		pos;
} FileReader;

/* Copy the next len bytes into dest; false if fewer are left. */
static bool
read_bytes(FileReader *r, void *dest, Size len)
{
	if (r->len - r->pos < len)
		return false;
	memcpy(dest, r->data + r->pos, len);
	r->pos += len;
	return true;
}

/* The next len bytes (0 <= len), in place; NULL if fewer are left. */
static const char *
read_text(FileReader *r, int32 len)
{
	const char *text = r->data + r->pos;

	if (len < 0 || r->len - r->pos < (Size) len)
		return NULL;
	r->pos += len;
	return text;
}

/* a bool as the compiler stores one: 0 or 1 */
static inline bool
valid_bool(const bool *b)
{
	unsigned char v;

	memcpy(&v, b, 1);
	return v <= 1;
}

/* a time or usage as the store accumulates it: finite and non-negative */
static inline bool
valid_time(double v)
{
	return isfinite(v) && v >= 0.0;
}

/* a text length as the hooks record one */
static inline bool
valid_text_len(int32 len)
{
	return len >= 0 && len <= SDP_MAX_SAVED_TEXT;
}

/* NUL-terminated, valid in encoding, and hashing to the key's appid */
static bool
valid_appname(const char *appname, uint64 appid, int encoding)
{
	size_t		len = strnlen(appname, NAMEDATALEN);

	return len < NAMEDATALEN &&
		pg_verify_mbstr(encoding, appname, (int) len, true) &&
		hash_bytes_extended((const unsigned char *) appname, len, 0) == appid;
}

/*
 * Check the values of a saved entry (its text is checked by the caller once
 * read).  Returns what is wrong, or NULL.
 */
static const char *
check_entry(const PersistEntry *pe)
{
	const SdpCounters *c = &pe->counters;
	SdpEntryKey key;
	uint64		bucketed = 0;

	/* the key as sdp_store_make_key() builds it, padding zeroed */
	if (!valid_bool(&pe->key.toplevel))
		return "malformed key";
	memset(&key, 0, sizeof(key));
	key.userid = pe->key.userid;
	key.dbid = pe->key.dbid;
	key.queryid = pe->key.queryid;
	key.appid = pe->key.appid;
	key.toplevel = pe->key.toplevel;
	if (memcmp(&key, &pe->key, sizeof(key)) != 0 || key.queryid == 0)
		return "malformed key";

	if (!PG_VALID_BE_ENCODING(pe->encoding))
		return "invalid encoding";
	if (!valid_appname(pe->appname, pe->key.appid, pe->encoding))
		return "invalid application name";
	if (!valid_text_len(pe->query_len))
		return "query text too long";

	if (c->calls < 0 || c->rows < 0 ||
		c->shared_blks_hit < 0 || c->shared_blks_read < 0 ||
		c->shared_blks_dirtied < 0 || c->shared_blks_written < 0 ||
		c->local_blks_hit < 0 || c->local_blks_read < 0 ||
		c->local_blks_dirtied < 0 || c->local_blks_written < 0 ||
		c->temp_blks_read < 0 || c->temp_blks_written < 0 ||
		c->wal_records < 0 || c->wal_fpi < 0)
		return "negative count";
	if (!valid_time(c->total_time) || !valid_time(c->min_time) ||
		!valid_time(c->max_time) || !valid_time(c->mean_time) ||
		!valid_time(c->sum_var_time) || !valid_time(c->blk_read_time) ||
		!valid_time(c->blk_write_time) || !valid_time(pe->usage))
		return "time negative or not a number";
	if (c->calls > 0)
	{
		/* Welford's mean may stray from [min, max] by a rounding error */
		double		slack = 1e-9 * c->max_time;

		if (c->min_time > c->max_time ||
			c->mean_time < c->min_time - slack ||
			c->mean_time > c->max_time + slack)
			return "minimum, mean and maximum out of order";
	}

	/* every call lands in exactly one bucket */
	for (int b = 0; b < SDP_HIST_BUCKETS; b++)
	{
		if (c->histogram.counts[b] > (uint64) c->calls - bucketed)
			return "histogram not matching the calls";
		bucketed += c->histogram.counts[b];
	}
	if (bucketed != (uint64) c->calls)
		return "histogram not matching the calls";

	if (!IS_VALID_TIMESTAMP(c->first_seen) || !IS_VALID_TIMESTAMP(c->last_seen))
		return "timestamp out of range";
	return NULL;
}

/* As check_entry(), for a saved N+1 pattern. */
static const char *
check_pattern(const PersistPattern *pp)
{
	const SdpPatternCounters *c = &pp->counters;
	SdpPatternKey key;

	/* the key as nplus1.c builds it, padding zeroed */
	if (!valid_bool(&pp->key.nested))
		return "malformed key";
	memset(&key, 0, sizeof(key));
	key.userid = pp->key.userid;
	key.dbid = pp->key.dbid;
	key.queryid = pp->key.queryid;
	key.parent_queryid = pp->key.parent_queryid;
	key.appid = pp->key.appid;
	key.nested = pp->key.nested;
	if (memcmp(&key, &pp->key, sizeof(key)) != 0 || key.queryid == 0)
		return "malformed key";

	if (pp->kind != SDP_LOOP_SELECT && pp->kind != SDP_LOOP_DML)
		return "unknown kind of loop";
	if (!PG_VALID_BE_ENCODING(pp->encoding))
		return "invalid encoding";
	if (!valid_appname(pp->appname, pp->key.appid, pp->encoding))
		return "invalid application name";
	if (!valid_text_len(pp->query_len) ||
		(pp->parent_len != -1 && !valid_text_len(pp->parent_len)))
		return "query text too long";

	/* a burst has at least one execution, and the longest is one of them */
	if (c->occurrences < 0 || c->total_repeats < 0 || c->max_repeats < 0 ||
		c->occurrences > c->total_repeats || c->max_repeats > c->total_repeats)
		return "negative or inconsistent count";
	if (!valid_time(c->total_exec_ms))
		return "time negative or not a number";
	if (!IS_VALID_TIMESTAMP(c->first_seen) || !IS_VALID_TIMESTAMP(c->last_seen))
		return "timestamp out of range";
	return NULL;
}

/*
 * The length of the prefix of a saved text that fits in max_query_text,
 * which may have shrunk since the file was written; cut at a character.
 */
static int
clip_text(int encoding, const char *text, int len)
{
	if (len <= sdp_max_query_text)
		return len;
	return pg_encoding_mbcliplen(encoding, text, len, sdp_max_query_text);
}

/*
 * Go through the entries and patterns of a file whose header and CRC were
 * checked.  With apply false, only check every value; with apply true (on
 * contents that passed), also fill the tables.  Returns what is wrong, or
 * NULL; counts what was loaded into *nentries and *npatterns.
 */
static const char *
parse_contents(FileReader *r, const PersistHeader *header, bool apply,
			   int64 *nentries, int64 *npatterns)
{
	const char *what;

	*nentries = 0;
	*npatterns = 0;

	for (int64 i = 0; i < header->nentries; i++)
	{
		PersistEntry pe;
		const char *text;
		SdpEntry   *entry;
		bool		found;
		int			keep;

		if (!read_bytes(r, &pe, sizeof(pe)))
			return "the file is shorter than its header says";
		if ((what = check_entry(&pe)) != NULL)
			return psprintf("impossible value in query entry %lld: %s",
							(long long) i + 1, what);
		if ((text = read_text(r, pe.query_len)) == NULL)
			return "the file is shorter than its header says";
		/* this also rejects NUL bytes */
		if (!pg_verify_mbstr(pe.encoding, text, pe.query_len, true))
			return psprintf("impossible value in query entry %lld: %s",
							(long long) i + 1,
							"query text not valid in its encoding");
		if (!apply)
			continue;

		/* max_queries may have shrunk too: keep what fits */
		if (hash_get_num_entries(sdp_store_hash) >= sdp_max_queries)
			continue;
		entry = (SdpEntry *) hash_search(sdp_store_hash, &pe.key,
										 HASH_ENTER_NULL, &found);
		if (entry == NULL || found)
			continue;
		keep = clip_text(pe.encoding, text, pe.query_len);
		SpinLockInit(&entry->mutex);
		entry->counters = pe.counters;
		entry->usage = pe.usage;
		strlcpy(entry->appname, pe.appname, NAMEDATALEN);
		entry->encoding = pe.encoding;
		entry->query_len = keep;
		memcpy(entry->query, text, keep);
		entry->query[keep] = '\0';
		(*nentries)++;
	}

	for (int64 i = 0; i < header->npatterns; i++)
	{
		PersistPattern pp;
		const char *text;
		const char *parent = NULL;

		if (!read_bytes(r, &pp, sizeof(pp)))
			return "the file is shorter than its header says";
		if ((what = check_pattern(&pp)) != NULL)
			return psprintf("impossible value in N+1 pattern %lld: %s",
							(long long) i + 1, what);
		if ((text = read_text(r, pp.query_len)) == NULL ||
			(pp.parent_len >= 0 &&
			 (parent = read_text(r, pp.parent_len)) == NULL))
			return "the file is shorter than its header says";
		if (!pg_verify_mbstr(pp.encoding, text, pp.query_len, true) ||
			(parent != NULL &&
			 !pg_verify_mbstr(pp.encoding, parent, pp.parent_len, true)))
			return psprintf("impossible value in N+1 pattern %lld: %s",
							(long long) i + 1,
							"query text not valid in its encoding");
		if (!apply)
			continue;

		if (sdp_nplus1_restore(&pp.key, (char) pp.kind, &pp.counters,
							   pp.appname, pp.encoding,
							   text, clip_text(pp.encoding, text, pp.query_len),
							   parent,
							   parent ? clip_text(pp.encoding, parent,
												  pp.parent_len) : -1) != NULL)
			(*npatterns)++;
	}

	if (r->pos != r->len)
		return "the file is longer than its header says";
	return NULL;
}

/*
 * Check what does not need the entries: the header, then the CRC.  The
 * magic and the version come first, so that a file of an older format
 * (which has no CRC) is reported as such.  Returns what is wrong, or NULL.
 */
static const char *
check_file(const char *data, Size len, PersistHeader *header)
{
	PersistTrailer trailer;
	pg_crc32c	crc;

	if (len < sizeof(PersistHeader))
		return "the file is truncated";
	memcpy(header, data, sizeof(PersistHeader));
	if (header->magic != SDP_FILE_MAGIC)
		return "the file is not a smart_dairy_perf statistics file";
	if (header->version != SDP_FILE_VERSION)
		return "the file was written by another version of smart_dairy_perf";

	if (len < sizeof(PersistHeader) + sizeof(PersistTrailer))
		return "the file is truncated";
	memcpy(&trailer, data + len - sizeof(PersistTrailer), sizeof(trailer));
	if (trailer.magic != SDP_FILE_MAGIC)
		return "the file is truncated";
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len - sizeof(pg_crc32c));
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, trailer.crc))
		return "checksum mismatch";

	if (header->key_size != sizeof(SdpEntryKey) ||
		header->counters_size != sizeof(SdpCounters) ||
		header->hist_buckets != SDP_HIST_BUCKETS)
		return "the file was written by another version of smart_dairy_perf";
	if (header->nentries < 0 || header->npatterns < 0 ||
		!IS_VALID_TIMESTAMP(header->stats_reset) ||
		header->evictions > (uint64) PG_INT64_MAX)
		return "impossible value in the header";
	return NULL;
}

void
sdp_persist_load(void)
{
	FILE	   *file;
	struct stat st;
	char	   *data = NULL;
	PersistHeader header;
	FileReader	reader;
	int64		nentries = 0;
	int64		npatterns = 0;
	const char *problem = NULL;

	file = AllocateFile(SDP_STATS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			goto read_error;
		return;
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

	/* check everything, then load by the same code */
	if (problem == NULL)
		problem = check_file(data, st.st_size, &header);
	if (problem == NULL)
	{
		reader.data = data;
		reader.len = st.st_size - sizeof(PersistTrailer);
		reader.pos = sizeof(PersistHeader);
		problem = parse_contents(&reader, &header, false,
								 &nentries, &npatterns);
	}
	if (problem == NULL)
	{
		reader.pos = sizeof(PersistHeader);
		problem = parse_contents(&reader, &header, true,
								 &nentries, &npatterns);
		Assert(problem == NULL);
	}

	FreeFile(file);
	unlink(SDP_STATS_FILE);
	if (data)
		pfree(data);

	if (problem != NULL)
	{
		ereport(LOG,
				(errmsg("ignoring saved statistics in \"%s\": %s",
						SDP_STATS_FILE, problem),
				 errdetail("Starting with empty query statistics.")));
		return;
	}

	sdp_store->stats_reset = header.stats_reset;
	pg_atomic_write_u64(&sdp_store->evictions, header.evictions);
	ereport(LOG,
			(errmsg("restored statistics of %lld queries and %lld N+1 patterns",
					(long long) nentries, (long long) npatterns)));
	return;

read_error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not read file \"%s\": %m",
					SDP_STATS_FILE),
			 errdetail("Starting with empty query statistics.")));
	if (file)
	{
		FreeFile(file);
		unlink(SDP_STATS_FILE);
	}
	if (data)
		pfree(data);
}
