/*-------------------------------------------------------------------------
 *
 * normalize.c
 *	  Builds the normalized text of a query shape: every constant that the
 *	  query jumble recorded is replaced by $n, comments are dropped and runs
 *	  of white space become one space, so that two executions that differ only
 *	  in constants, comments or layout show the same text.
 *
 *	  Called from post_parse_analyze only when a shape is seen for the first
 *	  time (see profiler_hooks.c), never per execution.  The result is
 *	  palloc'd in the caller's memory context (the query's), and bounded to
 *	  max_bytes without splitting a multibyte character.
 *
 *	  How: the statement is run through the core SQL scanner once.  Each token
 *	  is copied verbatim, except the tokens that start at a constant location
 *	  in the JumbleState, which become $n.  The token's extent comes from the
 *	  scanner itself: flex terminates the current token with a NUL in its own
 *	  copy of the text, so strlen() at the token's start gives its length,
 *	  including quoted strings that were scanned in several pieces.
 *
 *	  Does not own: the query id (PostgreSQL computes it) or where the text
 *	  is stored (profiler_store.c).
 *
 *-------------------------------------------------------------------------
 */
#include "compat.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "parser/scanner.h"

#include "normalize.h"

/*
 * The executing statement's own text (its part of a multi-statement string),
 * bounded: used where no normalized text is known (an entry evicted or reset
 * between parse and execution end; a statement prepared before a reset).
 */
char *
sdp_statement_source_text(QueryDesc *queryDesc, int max_bytes, int *result_len)
{
	int			location = queryDesc->plannedstmt->stmt_location;
	int			len = queryDesc->plannedstmt->stmt_len;
	const char *text = CleanQuerytext(queryDesc->sourceText, &location, &len);

	if (len > max_bytes)
		len = pg_mbcliplen(text, len, max_bytes);
	*result_len = len;
	return pnstrdup(text, len);
}

static int
compare_locations(const void *a, const void *b)
{
	int			la = ((const LocationLen *) a)->location;
	int			lb = ((const LocationLen *) b)->location;

	return (la > lb) - (la < lb);
}

/*
 * Normalize the statement at [location, location + len) of source_text.
 * location/len are the statement's position as Query->stmt_location/len
 * give it (-1/0 when unknown); CleanQuerytext() trims them.
 */
char *
sdp_normalize_query(const char *source_text, int location, int len,
					JumbleState *jstate, int max_bytes, int *result_len)
{
	const char *stmt;
	char	   *text;
	StringInfoData out;
	core_yyscan_t scanner;
	core_yy_extra_type extra;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	LocationLen *locs = NULL;
	int			nlocs = 0;
	int			next_loc = 0;
	int			param_base = 0;
	int			nparams = 0;
	int			copied_upto = 0;	/* end of the last token we emitted */
	bool		pending_space = false;

	stmt = CleanQuerytext(source_text, &location, &len);
	text = pnstrdup(stmt, len);

	if (jstate != NULL && jstate->clocations_count > 0)
	{
		nlocs = jstate->clocations_count;
		locs = palloc(sizeof(LocationLen) * nlocs);
		memcpy(locs, jstate->clocations, sizeof(LocationLen) * nlocs);
		qsort(locs, nlocs, sizeof(LocationLen), compare_locations);
		/* constant locations are relative to source_text; make them ours */
		for (int i = 0; i < nlocs; i++)
			locs[i].location -= location;
		/* $n numbering continues after any $n the query already uses */
		param_base = jstate->highest_extern_param_id;
	}

	initStringInfo(&out);
	scanner = scanner_init(text, &extra, &ScanKeywords, ScanKeywordTokens);
	/* the text is known to parse; don't let the scanner warn a second time */
	extra.escape_string_warning = false;

	for (;;)
	{
		int			token = core_yylex(&yylval, &yylloc, scanner);
		int			start = yylloc;
		int			end;

		if (token == 0)
			break;
		end = start + (int) strlen(extra.scanbuf + start);

		/* skip constant locations we passed (duplicates, or never a token) */
		while (next_loc < nlocs && locs[next_loc].location < start)
			next_loc++;

		if (start > copied_upto)
			pending_space = true;	/* white space or a comment was skipped */
		if (pending_space && out.len > 0)
			appendStringInfoChar(&out, ' ');
		pending_space = false;

		if (next_loc < nlocs && locs[next_loc].location == start)
		{
			/*
			 * A negative constant is recorded at its '-': the number is the
			 * next token, and both become one parameter.
			 */
			if (token == '-')
			{
				token = core_yylex(&yylval, &yylloc, scanner);
				if (token == 0)
					break;
				end = yylloc + (int) strlen(extra.scanbuf + yylloc);
			}
			appendStringInfo(&out, "$%d", param_base + ++nparams);
			next_loc++;
		}
		else
			appendBinaryStringInfo(&out, text + start, end - start);

		copied_upto = end;
		if (out.len >= max_bytes)
			break;
	}
	scanner_finish(scanner);

	if (out.len > max_bytes)
		out.len = pg_mbcliplen(out.data, out.len, max_bytes);
	out.data[out.len] = '\0';

	pfree(text);
	if (locs)
		pfree(locs);
	*result_len = out.len;
	return out.data;
}
