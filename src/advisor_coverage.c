/*-------------------------------------------------------------------------
 *
 * advisor_coverage.c
 *	  How much of the workload the index advisor covered: each profiled
 *	  statement was planned (from its normalized text, or from its sample
 *	  with real constants) or not, and why not (a relation not found, a
 *	  text that does not parse, a text cut at max_query_text, a text the
 *	  caller may not see, ...), with its share of the workload's time.
 *
 *	  Two ways out: sdp.advisor_coverage(), one row per statement, which
 *	  plans the workload for that purpose (index_advisor.c); and the
 *	  summary of the last sdp._index_advice() run in this backend, kept in
 *	  TopMemoryContext until the next run, read by
 *	  sdp._advisor_last_coverage() (the NOTICE of sdp.recommend_indexes()
 *	  and the report's line).
 *
 *	  Backend-local, no lock, no SPI.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "advisor.h"
#include "sdp_config.h"

PG_FUNCTION_INFO_V1(sdp_advisor_last_coverage);

typedef struct CoverageBucket
{
	int64		statements;
	int64		calls;
	double		total_ms;
} CoverageBucket;

/* the last run's summary in this backend; valid once a run finished */
static CoverageBucket last_run[ADVISOR_NOUTCOMES];
static bool last_run_valid = false;

static const char *const outcome_names[ADVISOR_NOUTCOMES] = {
	[ADVISOR_PLANNED] = "planned",
	[ADVISOR_PLANNED_SAMPLE] = "planned from its sample",
	[ADVISOR_NO_TABLE] = "reads no table",
	[ADVISOR_NOT_FOUND] = "relation not found",
	[ADVISOR_SYNTAX] = "syntax",
	[ADVISOR_CUT] = "cut text",
	[ADVISOR_PERMISSION] = "permission",
	[ADVISOR_ROLE_GONE] = "role dropped",
	[ADVISOR_OWNERS] = "several owners",
	[ADVISOR_NOT_INDEXABLE] = "not a SELECT, UPDATE or DELETE",
	[ADVISOR_BEYOND_LIMIT] = "beyond the heaviest statements",
	[ADVISOR_OTHER_ERROR] = "other error",
};

/* The reason as the coverage rows name it.  No lock. */
const char *
sdp_advisor_outcome_name(AdvisorOutcome outcome)
{
	return outcome_names[outcome];
}

/* Did the advisor see all there is to see of a statement with this outcome? */
static bool
covered(AdvisorOutcome outcome)
{
	return outcome == ADVISOR_PLANNED || outcome == ADVISOR_PLANNED_SAMPLE ||
		outcome == ADVISOR_NO_TABLE;
}

/* Was text (as the store keeps it) cut at max_query_text? */
static bool
text_was_cut(const char *text)
{
	return text != NULL &&
		(int) strlen(text) > sdp_max_query_text - MAX_MULTIBYTE_CHAR_LEN;
}

/*
 * What an error of parsing or planning text means for coverage.  A syntax
 * error in a text as long as max_query_text is a cut text.  No lock.
 */
AdvisorOutcome
sdp_advisor_classify_error(ErrorData *edata, const char *text)
{
	switch (edata->sqlerrcode)
	{
		case ERRCODE_UNDEFINED_TABLE:
		case ERRCODE_UNDEFINED_COLUMN:
		case ERRCODE_UNDEFINED_FUNCTION:
		case ERRCODE_UNDEFINED_OBJECT:
		case ERRCODE_INVALID_SCHEMA_NAME:
		case ERRCODE_UNDEFINED_PARAMETER:
			return ADVISOR_NOT_FOUND;
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
			return ADVISOR_PERMISSION;
		case ERRCODE_SYNTAX_ERROR:
		case ERRCODE_INDETERMINATE_DATATYPE:
		case ERRCODE_AMBIGUOUS_FUNCTION:
		case ERRCODE_AMBIGUOUS_PARAMETER:
		case ERRCODE_DATATYPE_MISMATCH:
		case ERRCODE_INVALID_TEXT_REPRESENTATION:
			return text_was_cut(text) ? ADVISOR_CUT : ADVISOR_SYNTAX;
		default:
			return text_was_cut(text) ? ADVISOR_CUT : ADVISOR_OTHER_ERROR;
	}
}

static void
add_up(const WorkItem *items, int n, CoverageBucket *buckets, double *total_ms)
{
	memset(buckets, 0, sizeof(CoverageBucket) * ADVISOR_NOUTCOMES);
	*total_ms = 0;
	for (int i = 0; i < n; i++)
	{
		CoverageBucket *b = &buckets[items[i].outcome];

		b->statements += Max(items[i].statements, 1);
		b->calls += items[i].calls;
		b->total_ms += items[i].total_ms;
		*total_ms += items[i].total_ms;
	}
}

/*
 * Keep the summary of a run over the n profiled statements in items, for
 * sdp._advisor_last_coverage().  Backend-local static storage.
 */
void
sdp_advisor_coverage_remember(const WorkItem *items, int n)
{
	double		total_ms;

	add_up(items, n, last_run, &total_ms);
	last_run_valid = true;
}

static double
share(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

/*
 * Rows of sdp._advisor_coverage(): one per profiled statement in items,
 * with its outcome and its share of the workload's time.  In the current
 * (SPI procedure) context.
 */
void
sdp_advisor_coverage_rows(ReturnSetInfo *rsinfo, const WorkItem *items, int n)
{
	CoverageBucket buckets[ADVISOR_NOUTCOMES];
	double		total_ms;

	add_up(items, n, buckets, &total_ms);
	for (int i = 0; i < n; i++)
	{
		const WorkItem *w = &items[i];
		Datum		values[9];
		bool		nulls[9] = {0};

		values[0] = Int64GetDatum(w->queryid);
		values[1] = ObjectIdGetDatum(w->userid);
		nulls[1] = !OidIsValid(w->userid);
		values[2] = BoolGetDatum(covered(w->outcome));
		values[3] = CStringGetTextDatum(outcome_names[w->outcome]);
		if (w->error)
			values[4] = CStringGetTextDatum(w->error);
		else
			nulls[4] = true;
		values[5] = Int64GetDatum(w->calls);
		values[6] = Float8GetDatum(w->total_ms);
		values[7] = Float8GetDatum(share(w->total_ms, total_ms));
		if (w->normalized)
			values[8] = CStringGetTextDatum(w->normalized);
		else
			nulls[8] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * sdp._advisor_last_coverage(): the last sdp._index_advice() run of this
 * backend, one row per outcome seen (planned ones first); no row before
 * any run.
 */
Datum
sdp_advisor_last_coverage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	double		total_ms = 0;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (!last_run_valid)
		return (Datum) 0;
	for (int o = 0; o < ADVISOR_NOUTCOMES; o++)
		total_ms += last_run[o].total_ms;
	for (int o = 0; o < ADVISOR_NOUTCOMES; o++)
	{
		Datum		values[5];
		bool		nulls[5] = {0};

		if (last_run[o].statements == 0)
			continue;
		values[0] = BoolGetDatum(covered(o));
		values[1] = CStringGetTextDatum(outcome_names[o]);
		values[2] = Int64GetDatum(last_run[o].statements);
		values[3] = Float8GetDatum(last_run[o].total_ms);
		values[4] = Float8GetDatum(share(last_run[o].total_ms, total_ms));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
