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
 *	  entry), the query entries, the N+1 patterns, and the magic again as a
 *	  trailer.  A missing file
 *	  is a normal empty start; a truncated file, a foreign version or any
 *	  read error gives one LOG line and an empty start, never a failed start.
 *
 *	  Runs only in the postmaster (no other process attaches yet or any
 *	  more), so it takes no locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"

#include "nplus1.h"
#include "profiler_persist.h"
#include "profiler_store.h"
#include "sdp_config.h"

#define SDP_FILE_MAGIC		0x53445031	/* "SDP1" */
#define SDP_FILE_VERSION	1

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

void
sdp_persist_save(int code, Datum arg)
{
	const char *tmpfile = SDP_STATS_FILE ".tmp";
	FILE	   *file;
	PersistHeader header;
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;
	uint32		magic = SDP_FILE_MAGIC;

	/* after a crash, or with saving off, leave nothing behind */
	if (code != 0 || !sdp_save || sdp_store == NULL)
		return;

	file = AllocateFile(tmpfile, PG_BINARY_W);
	if (file == NULL)
		goto error;

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
	if (fwrite(&header, sizeof(header), 1, file) != 1)
		goto error;

	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		PersistEntry pe;

		memset(&pe, 0, sizeof(pe));
		pe.key = entry->key;
		pe.counters = entry->counters;
		pe.usage = entry->usage;
		memcpy(pe.appname, entry->appname, NAMEDATALEN);
		pe.encoding = entry->encoding;
		pe.query_len = entry->query_len;
		if (fwrite(&pe, sizeof(pe), 1, file) != 1 ||
			fwrite(entry->query, 1, pe.query_len, file) != (size_t) pe.query_len)
		{
			hash_seq_term(&scan);
			goto error;
		}
	}

	hash_seq_init(&scan, sdp_nplus1_table());
	{
		SdpPattern *p;

		while ((p = hash_seq_search(&scan)) != NULL)
		{
			PersistPattern pp;
			int			parent_bytes = Max(p->parent_len, 0);

			memset(&pp, 0, sizeof(pp));
			pp.key = p->key;
			pp.counters = p->counters;
			memcpy(pp.appname, p->appname, NAMEDATALEN);
			pp.kind = p->kind;
			pp.query_len = p->query_len;
			pp.parent_len = p->parent_len;
			if (fwrite(&pp, sizeof(pp), 1, file) != 1 ||
				fwrite(p->text, 1, pp.query_len, file) != (size_t) pp.query_len ||
				fwrite(p->text + p->query_len + 1, 1, parent_bytes, file) !=
				(size_t) parent_bytes)
			{
				hash_seq_term(&scan);
				goto error;
			}
		}
	}

	if (fwrite(&magic, sizeof(magic), 1, file) != 1)
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
			 errmsg("smart_dairy_perf: could not write file \"%s\": %m",
					tmpfile)));
	if (file)
		FreeFile(file);
	unlink(tmpfile);
}

/* Remove whatever a partial load put in the tables. */
static void
discard_loaded(void)
{
	HASH_SEQ_STATUS scan;
	SdpEntry   *entry;

	hash_seq_init(&scan, sdp_store_hash);
	while ((entry = hash_seq_search(&scan)) != NULL)
		hash_search(sdp_store_hash, &entry->key, HASH_REMOVE, NULL);
	sdp_nplus1_reset(0);
}

/*
 * Read one saved text of len bytes into buf (room for max bytes), skipping
 * what does not fit.  Returns the bytes kept, or -1 on a short read.
 */
static int
read_text(FILE *file, char *buf, int len, int max)
{
	int			keep = Min(len, max);

	if (len < 0 || len > 1024 * 1024 ||
		fread(buf, 1, keep, file) != (size_t) keep ||
		fseeko(file, len - keep, SEEK_CUR) != 0)
		return -1;
	return keep;
}

static const char *
load_patterns(FILE *file, int64 npatterns, char *text, char *parent)
{
	for (int64 i = 0; i < npatterns; i++)
	{
		PersistPattern pp;
		int			qlen;
		int			plen = -1;

		if (fread(&pp, sizeof(pp), 1, file) != 1)
			return "the file is truncated";
		qlen = read_text(file, text, pp.query_len, sdp_max_query_text);
		if (qlen < 0)
			return "the file is truncated";
		if (pp.parent_len >= 0)
		{
			plen = read_text(file, parent, pp.parent_len, sdp_max_query_text);
			if (plen < 0)
				return "the file is truncated";
		}
		pp.appname[NAMEDATALEN - 1] = '\0';
		(void) sdp_nplus1_restore(&pp.key, (char) pp.kind, &pp.counters,
								  pp.appname, text, qlen,
								  plen >= 0 ? parent : NULL, plen);
	}
	return NULL;
}

void
sdp_persist_load(void)
{
	FILE	   *file;
	PersistHeader header;
	char	   *text = NULL;
	char	   *parent = NULL;
	int64		loaded = 0;
	uint32		trailer;
	const char *problem = NULL;

	file = AllocateFile(SDP_STATS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("smart_dairy_perf: could not read file \"%s\": %m",
							SDP_STATS_FILE),
					 errdetail("Starting with empty query statistics.")));
		return;
	}

	if (fread(&header, sizeof(header), 1, file) != 1)
		problem = "the file is truncated";
	else if (header.magic != SDP_FILE_MAGIC ||
			 header.version != SDP_FILE_VERSION ||
			 header.key_size != sizeof(SdpEntryKey) ||
			 header.counters_size != sizeof(SdpCounters) ||
			 header.hist_buckets != SDP_HIST_BUCKETS)
		problem = "the file was written by another version of smart_dairy_perf";
	else if (header.nentries < 0 || header.npatterns < 0)
		problem = "the file is corrupt";

	if (problem == NULL)
	{
		text = palloc(sdp_max_query_text + 1);
		parent = palloc(sdp_max_query_text + 1);
	}

	for (int64 i = 0; problem == NULL && i < header.nentries; i++)
	{
		PersistEntry pe;
		SdpEntry   *entry;
		bool		found;
		int			keep;

		if (fread(&pe, sizeof(pe), 1, file) != 1 || pe.query_len < 0 ||
			pe.query_len > 1024 * 1024)
		{
			problem = "the file is truncated or corrupt";
			break;
		}
		/* max_query_text may have shrunk since the file was written */
		keep = Min(pe.query_len, sdp_max_query_text);
		if (fread(text, 1, keep, file) != (size_t) keep ||
			fseeko(file, pe.query_len - keep, SEEK_CUR) != 0)
		{
			problem = "the file is truncated";
			break;
		}
		if (keep < pe.query_len &&
			pe.encoding >= 0 && pe.encoding < _PG_LAST_ENCODING_)
			keep = pg_encoding_mbcliplen(pe.encoding, text, keep, keep);

		/* max_queries may have shrunk too: keep what fits */
		if (hash_get_num_entries(sdp_store_hash) >= sdp_max_queries)
			continue;
		entry = (SdpEntry *) hash_search(sdp_store_hash, &pe.key,
										 HASH_ENTER_NULL, &found);
		if (entry == NULL || found)
			continue;
		SpinLockInit(&entry->mutex);
		entry->counters = pe.counters;
		entry->usage = pe.usage;
		memcpy(entry->appname, pe.appname, NAMEDATALEN);
		entry->appname[NAMEDATALEN - 1] = '\0';
		entry->encoding = pe.encoding;
		entry->query_len = keep;
		memcpy(entry->query, text, keep);
		entry->query[keep] = '\0';
		loaded++;
	}

	if (problem == NULL)
		problem = load_patterns(file, header.npatterns, text, parent);

	if (problem == NULL &&
		(fread(&trailer, sizeof(trailer), 1, file) != 1 ||
		 trailer != SDP_FILE_MAGIC))
		problem = "the file is truncated";

	FreeFile(file);
	unlink(SDP_STATS_FILE);
	if (text)
		pfree(text);
	if (parent)
		pfree(parent);

	if (problem != NULL)
	{
		discard_loaded();
		ereport(LOG,
				(errmsg("smart_dairy_perf: ignoring saved statistics in \"%s\": %s",
						SDP_STATS_FILE, problem),
				 errdetail("Starting with empty query statistics.")));
		return;
	}

	sdp_store->stats_reset = header.stats_reset;
	pg_atomic_write_u64(&sdp_store->evictions, header.evictions);
	ereport(LOG,
			(errmsg("smart_dairy_perf: restored statistics of %lld queries and %lld N+1 patterns",
					(long long) loaded, (long long) header.npatterns)));
}
