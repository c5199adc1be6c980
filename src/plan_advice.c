/*-------------------------------------------------------------------------
 *
 * plan_advice.c
 *	  The one check of sdp.explain_advice() that SQL cannot make: that the
 *	  text it is handed is exactly one statement without parameters, so
 *	  that nothing runs beside the EXPLAIN (a second statement would run
 *	  outside it, unexplained and not rolled back).  The findings
 *	  themselves are SQL over the JSON plan (src/sql/plan_advice.sql).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(sdp_check_explainable);

/* does a raw parse tree hold a $n? */
static bool
has_param_ref(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, ParamRef))
		return true;
	return raw_expression_tree_walker(node, has_param_ref, context);
}

/*
 * sdp._check_explainable(query text): ERROR unless query is one
 * preparable statement (SELECT, VALUES, INSERT, UPDATE, DELETE, MERGE)
 * without $n parameters.  Only the raw parser runs: no name is looked up,
 * nothing is planned or executed.
 */
Datum
sdp_check_explainable(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *raw = pg_parse_query(query);

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be exactly one statement, not %d", list_length(raw)),
				 errhint("Give the statements one at a time.")));
	switch (nodeTag(linitial_node(RawStmt, raw)->stmt))
	{
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("query must be a SELECT, VALUES, INSERT, UPDATE, DELETE or MERGE statement"),
					 errhint("Those are the statements EXPLAIN can run and a prepared statement can hold.")));
	}
	if (has_param_ref(linitial_node(RawStmt, raw)->stmt, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query has parameters ($n)"),
				 errhint("Put the values of the parameters in the text, as the application sent them.")));
	PG_RETURN_VOID();
}
