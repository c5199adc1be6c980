/*-------------------------------------------------------------------------
 *
 * advisor_choice.c
 *	  The index advisor's third phase: the greedy choice for the whole
 *	  workload and the rows it reports.  Each round takes the candidate
 *	  that saves the most estimated execution time (total time x relative
 *	  cost drop of the statements whose plan uses it, advisor_whatif.c), if
 *	  it lowers their cost by at least min_improvement_pct; candidates a
 *	  chosen index serves are then dropped.  Variants compete with their
 *	  plain index as eligible() says.  At most ADVISOR_MAX_ROUNDS indexes.
 *
 *	  Reads and marks sdp_advisor_candidates, sets sdp_advisor_injected for
 *	  each what-if plan.  No SPI, no locks of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/tuplestore.h"

#include "advisor.h"

/* Do inner's keys lead outer's (same table)? */
static bool
keys_lead(Candidate *inner, Candidate *outer)
{
	if (inner->relid != outer->relid || inner->nkeys > outer->nkeys)
		return false;
	for (int i = 0; i < inner->nkeys; i++)
		if (!sdp_advisor_same_key(&inner->keys[i], &outer->keys[i]))
			return false;
	return true;
}

/* Does chosen serve what c would?  A partial index only its own predicate. */
static bool
serves(Candidate *chosen, Candidate *c)
{
	return keys_lead(c, chosen) &&
		(chosen->predicate == NIL || equal(chosen->predicate, c->predicate));
}

/* The plain index a covering or partial candidate is a variant of. */
static Candidate *
plain_of(Candidate *variant)
{
	ListCell   *lc;

	if (variant->variant_of != NULL)
		return variant->variant_of;
	foreach(lc, sdp_advisor_candidates)
	{
		Candidate  *c = lfirst(lc);

		if (c != variant && c->ninclude == 0 && c->predicate == NIL &&
			c->nkeys == variant->nkeys && keys_lead(c, variant))
			return c;
	}
	return NULL;
}

/*
 * The index as words (columns) and as what follows ON table in CREATE
 * INDEX (definition): "user_id INCLUDE (status) WHERE read_at IS NULL" and
 * "(user_id) INCLUDE (status) WHERE (read_at IS NULL)".
 */
static void
describe_candidate(Candidate *c, char **columns, char **definition)
{
	StringInfoData keys;
	StringInfoData include;
	char	   *predicate = NULL;
	List	   *context = deparse_context_for(get_rel_name(c->relid), c->relid);

	initStringInfo(&keys);
	for (int i = 0; i < c->nkeys; i++)
	{
		if (i > 0)
			appendStringInfoString(&keys, ", ");
		if (c->keys[i].attnum > 0)
			appendStringInfoString(&keys,
								   quote_identifier(get_attname(c->relid, c->keys[i].attnum, false)));
		else
			appendStringInfo(&keys, "(%s)",
							 deparse_expression(c->keys[i].expr, context, false, false));
	}
	initStringInfo(&include);
	for (int i = 0; i < c->ninclude; i++)
		appendStringInfo(&include, "%s%s", i == 0 ? " INCLUDE (" : ", ",
						 quote_identifier(get_attname(c->relid, c->include[i], false)));
	if (c->ninclude > 0)
		appendStringInfoChar(&include, ')');
	if (c->predicate != NIL)
		predicate = deparse_expression((Node *) make_ands_explicit(c->predicate),
									   context, false, false);
	*columns = psprintf("%s%s%s%s", keys.data, include.data,
						predicate ? " WHERE " : "", predicate ? predicate : "");
	*definition = psprintf("(%s)%s%s%s", keys.data, include.data,
						   predicate ? " WHERE " : "", predicate ? predicate : "");
}

/*
 * One row of sdp._index_advice() for a chosen candidate: costs before and
 * after over the statements whose plan uses it, the time it saves, its size,
 * the statements' ids and the heaviest one's text.  Rows go into rsinfo's
 * tuplestore; palloc's in the current (SPI procedure) context; plans in
 * scratch.
 */
void
sdp_advisor_report(ReturnSetInfo *rsinfo, Candidate *c, WorkItem *items, int n,
				   MemoryContext scratch)
{
	double		before = 0,
				after = 0,
				total_ms = 0,
				saved_ms = 0,
				best_ms = -1;
	int64		calls = 0;
	int64		pages = 0;
	ArrayBuildState *ids = initArrayResult(INT8OID, CurrentMemoryContext, false);
	char	   *sample = NULL;
	Datum		values[12];
	bool		nulls[12] = {0};
	char	   *columns;
	char	   *definition;

	for (int i = 0; i < n; i++)
	{
		WorkItem   *w = &items[i];
		double		cost = sdp_advisor_cost_using(w, c, scratch);

		pages = Max(pages, c->est_pages);
		if (cost < 0)
			continue;
		before += w->base_cost;
		after += cost;
		if (w->scan_only)
			continue;			/* its statement is counted */
		calls += w->calls;
		total_ms += w->total_ms;
		saved_ms += w->total_ms * Max(w->base_cost - cost, 0) / Max(w->base_cost, 1e-9);
		accumArrayResult(ids, Int64GetDatum(w->queryid), false, INT8OID, CurrentMemoryContext);
		if (w->total_ms > best_ms)
		{
			best_ms = w->total_ms;
			sample = w->text;
		}
	}
	if (sample == NULL)
		return;
	describe_candidate(c, &columns, &definition);
	values[0] = ObjectIdGetDatum(c->relid);
	values[1] = CStringGetTextDatum(columns);
	values[2] = Float8GetDatum(before);
	values[3] = Float8GetDatum(after);
	values[4] = Float8GetDatum(before > 0 ? 100.0 * (before - after) / before : 0);
	values[5] = makeArrayResult(ids, CurrentMemoryContext);
	values[6] = CStringGetTextDatum(sample);
	values[7] = Int64GetDatum(calls);
	values[8] = Float8GetDatum(total_ms);
	values[9] = Int64GetDatum(pages * BLCKSZ);
	values[10] = Float8GetDatum(saved_ms);
	/* 1.1's SQL declares no definition column */
	values[11] = CStringGetTextDatum(definition);
	Assert(rsinfo->setDesc->natts == 11 || rsinfo->setDesc->natts == 12);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Whether c may be chosen this round, its gain set: a covering variant
 * only if it saves ADVISOR_COVERING_MARGIN times what its plain index
 * saves; a plain index not if a partial variant saves nearly as much
 * (the partial one is smaller and cheaper to maintain).
 */
static bool
eligible(Candidate *c)
{
	Candidate  *plain;
	ListCell   *lc;

	if (c->round_gain <= 0)
		return false;
	if (c->ninclude > 0 || c->predicate != NIL)
	{
		plain = plain_of(c);
		if (plain == NULL)
			return true;
		return c->round_gain >= (c->ninclude > 0 ? ADVISOR_COVERING_MARGIN :
								 ADVISOR_PARTIAL_MARGIN) * plain->round_gain;
	}
	foreach(lc, sdp_advisor_candidates)
	{
		Candidate  *partial = lfirst(lc);

		if (partial->predicate != NIL && partial->ninclude == 0 &&
			plain_of(partial) == c &&
			partial->round_gain >= ADVISOR_PARTIAL_MARGIN * c->round_gain)
			return false;
	}
	return true;
}

/*
 * The greedy choice; returns the chosen candidates in order (a list in the
 * current memory context; sdp_advisor_injected is left pointing at it).
 * Covering and partial variants compete with their plain index as
 * eligible() says: a wider or narrower index has costs the planner's
 * estimate does not see.  Plans in scratch.
 */
List *
sdp_advisor_choose(WorkItem *items, int n, double min_pct, MemoryContext scratch)
{
	List	   *chosen = NIL;

	for (int round = 0; round < ADVISOR_MAX_ROUNDS; round++)
	{
		Candidate  *best = NULL;
		double		best_gain = 0;
		ListCell   *lc;

		foreach(lc, sdp_advisor_candidates)
		{
			Candidate  *c = lfirst(lc);
			double		before = 0,
						after = 0,
						gain = 0;

			c->round_gain = 0;
			if (c->chosen || c->dropped)
				continue;
			CHECK_FOR_INTERRUPTS();
			sdp_advisor_injected = lappend(list_copy(chosen), c);
			for (int i = 0; i < n; i++)
			{
				WorkItem   *w = &items[i];
				double		cost = sdp_advisor_cost_using(w, c, scratch);

				if (cost < 0)
					continue;
				before += w->cur_cost;
				after += cost;
				if (!w->scan_only)
					gain += w->total_ms * Max(w->cur_cost - cost, 0) / Max(w->base_cost, 1e-9);
			}
			if (before > 0 && 100.0 * (before - after) / before >= min_pct)
				c->round_gain = gain;
			if (message_level_is_interesting(DEBUG1))
			{
				char	   *columns;
				char	   *definition;

				describe_candidate(c, &columns, &definition);
				elog(DEBUG1, "index advisor round %d: %s %s saves %.3f ms, cost %.1f -> %.1f",
					 round + 1, get_rel_name(c->relid), definition, gain, before, after);
			}
		}
		foreach(lc, sdp_advisor_candidates)
		{
			Candidate  *c = lfirst(lc);

			if (eligible(c) && c->round_gain > best_gain)
			{
				best = c;
				best_gain = c->round_gain;
			}
		}
		if (best == NULL)
			break;
		best->chosen = true;
		chosen = lappend(chosen, best);
		sdp_advisor_injected = chosen;
		for (int i = 0; i < n; i++)
			if (items[i].query != NULL && sdp_advisor_item_reads(&items[i], best->relid))
				items[i].cur_cost = sdp_advisor_what_if(&items[i], NULL, NULL, scratch);
		/* an index that leads with these columns serves them */
		foreach(lc, sdp_advisor_candidates)
		{
			Candidate  *c = lfirst(lc);

			if (!c->chosen && serves(best, c))
				c->dropped = true;
		}
	}
	sdp_advisor_injected = chosen;
	return chosen;
}

