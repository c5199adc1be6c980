/*-------------------------------------------------------------------------
 *
 * advisor.h
 *	  Private to the index advisor: what its three phases share.
 *	  index_advisor.c (entry point and workload), advisor_candidates.c
 *	  (collection), advisor_whatif.c (what-if costing), advisor_choice.c
 *	  (the greedy choice and its rows).  Nothing outside them includes it.
 *
 *	  All of it lives for one call of sdp._index_advice(), in one backend:
 *	  the state below is backend-local, reset when the call ends (also on
 *	  error), and needs no lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_ADVISOR_H
#define SDP_ADVISOR_H

#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"

#include "hypothetical_index.h"

#define ADVISOR_MAX_QUERIES		200
#define ADVISOR_MAX_ROUNDS		10
#define ADVISOR_MAX_COMPOSITE	4
#define ADVISOR_MAX_INCLUDE		3
/*
 * A covering variant must save this much more than its plain index (it is
 * wider); a partial one nearly as much (it is smaller and cheaper to keep).
 */
#define ADVISOR_COVERING_MARGIN	1.25
#define ADVISOR_PARTIAL_MARGIN	0.95
/* column = constant makes a partial index only on columns this few-valued */
#define ADVISOR_PARTIAL_MAX_DISTINCT	100
/* a partial index keeps at most this fraction of the table */
#define ADVISOR_PARTIAL_MAX_FRACTION 0.5
/* OIDs no catalog hands out, one per candidate */
#define ADVISOR_FAKE_OID_BASE	((Oid) 0xFFF00000)

/*
 * Why a profiled statement was or was not planned (advisor_coverage.c).
 * The order is the order of the coverage rows.
 */
typedef enum AdvisorOutcome
{
	ADVISOR_PLANNED,			/* from its normalized text */
	ADVISOR_PLANNED_SAMPLE,		/* from its sample, real constants */
	ADVISOR_NO_TABLE,			/* reads no table: nothing to index */
	ADVISOR_NOT_FOUND,			/* a relation, column or function did not resolve */
	ADVISOR_SYNTAX,				/* the text does not parse or its $n have no type */
	ADVISOR_CUT,				/* the text was cut at max_query_text */
	ADVISOR_PERMISSION,			/* text hidden from the caller, or rights gone */
	ADVISOR_ROLE_GONE,			/* the role that ran it no longer exists */
	ADVISOR_OWNERS,				/* a superuser's over several owners' tables */
	ADVISOR_NOT_INDEXABLE,		/* INSERT, utility, several statements */
	ADVISOR_BEYOND_LIMIT,		/* past the ADVISOR_MAX_QUERIES heaviest */
	ADVISOR_OTHER_ERROR,
	ADVISOR_NOUTCOMES
} AdvisorOutcome;

/* One statement of the workload (index_advisor.c). */
typedef struct WorkItem
{
	int64		queryid;
	Oid			userid;			/* planned as this role (see prepare_item()) */
	const char *search_path;	/* under this search_path */
	char	   *text;			/* what was planned (the sample or the normalized text) */
	char	   *normalized;		/* NULL for the observed predicates */
	char	   *sample;			/* NULL: none kept */
	int64		calls;
	double		total_ms;
	int64		statements;		/* profiled statements it stands for: 1, or
								 * the rows the caller may not see (no query
								 * id tells them apart); 0 counts as 1 */
	AdvisorOutcome outcome;
	char	   *error;			/* why it was not planned, when an error said so */
	bool		from_sample;	/* being planned from the sample: real constants */
	bool		constants_matter;	/* the sample's plan tested a constant that
									 * the normalized text hides (collection) */
	Query	   *query;
	List	   *relids;			/* tables the statement reads */
	double		base_cost;		/* no hypothetical index */
	double		cur_cost;		/* with the chosen ones */
	bool		scan_only;		/* a scan of a profiled statement: see index_advisor.c */
} WorkItem;

/* One candidate index (advisor_candidates.c). */
typedef struct Candidate
{
	Oid			relid;
	int			nkeys;
	SdpHypoKey	keys[ADVISOR_MAX_COMPOSITE];
	int			ninclude;		/* INCLUDE columns, for index-only scans */
	AttrNumber	include[ADVISOR_MAX_INCLUDE];
	List	   *predicate;		/* partial index: IS [NOT] NULL, boolean columns,
								 * a sample's column = constant */
	struct Candidate *variant_of;	/* a variant's plain index, when its keys differ */
	Oid			fake_oid;
	bool		chosen;
	bool		dropped;
	double		round_gain;		/* time saved in the current greedy round */
	int64		est_pages;		/* summed over partitions in one plan */
} Candidate;

/* advisor_candidates.c: every candidate, and the statement being collected for */
extern List *sdp_advisor_candidates;	/* Candidate *, in sdp_advisor_cxt */
extern WorkItem *sdp_advisor_collecting_for;	/* NULL: not collecting */
extern MemoryContext sdp_advisor_cxt;	/* candidates and relid lists */
extern bool sdp_advisor_same_key(const SdpHypoKey *a, const SdpHypoKey *b);
extern void sdp_advisor_collect_install(void);
extern void sdp_advisor_collect_uninstall(void);

/* advisor_whatif.c: planning with hypothetical indexes */
extern List *sdp_advisor_injected;	/* Candidate *: the ones injected now */
extern void sdp_advisor_whatif_install(void);
extern void sdp_advisor_whatif_uninstall(void);
extern double sdp_advisor_what_if(WorkItem *w, Candidate *c, bool *used,
								  MemoryContext scratch);
extern bool sdp_advisor_item_reads(WorkItem *w, Oid relid);
extern double sdp_advisor_cost_using(WorkItem *w, Candidate *c,
									 MemoryContext scratch);

/* advisor_coverage.c: what share of the workload was planned, and why not */
extern AdvisorOutcome sdp_advisor_classify_error(ErrorData *edata, const char *text);
extern const char *sdp_advisor_outcome_name(AdvisorOutcome outcome);
extern void sdp_advisor_coverage_remember(const WorkItem *items, int n);
extern void sdp_advisor_coverage_rows(ReturnSetInfo *rsinfo, const WorkItem *items, int n);

/* advisor_choice.c: the greedy choice and its rows */
extern List *sdp_advisor_choose(WorkItem *items, int n, double min_pct,
								MemoryContext scratch);
extern void sdp_advisor_report(ReturnSetInfo *rsinfo, Candidate *c,
							   WorkItem *items, int n, MemoryContext scratch);

#endif							/* SDP_ADVISOR_H */
