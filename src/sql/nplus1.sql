/* nplus1.sql: N+1 detection (nplus1.c, nplus1_store.c): the patterns seen,
 * the batching suggestion and the sdp.n_plus_one view. */

CREATE FUNCTION sdp.n_plus_one_patterns(
    showtext boolean DEFAULT true,
    OUT userid oid,
    OUT dbid oid,
    OUT queryid bigint,
    OUT query text,
    OUT kind text,
    OUT parent_queryid bigint,
    OUT parent_query text,
    OUT occurrences bigint,
    OUT total_repeats bigint,
    OUT max_repeats bigint,
    OUT total_exec_ms double precision,
    OUT nested boolean,
    OUT application_name text,
    OUT first_seen timestamptz,
    OUT last_seen timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_n_plus_one_patterns'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- How to batch a repeated statement: its text with the first "col = $n"
-- turned into "col = ANY($n)", or the DML form that does all rows at once.
CREATE FUNCTION sdp.n_plus_one_suggestion(kind text, query text,
                                          parent_query text, nested boolean)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
    WHEN query IS NULL OR query = '<insufficient privilege>' THEN NULL
    WHEN kind = 'row_by_row_dml' AND query ~* '^\s*insert' THEN
        'Insert all rows in one statement: a multi-row INSERT ... VALUES (...), (...), '
        || 'INSERT ... SELECT, or COPY'
        || CASE WHEN nested THEN ', instead of one INSERT per loop iteration in the function' ELSE '' END
    WHEN kind = 'row_by_row_dml' AND query ~* '^\s*update' THEN
        'Update all rows in one statement: UPDATE ... SET col = v.col FROM (VALUES ($1, $2), ...) AS v(key, col) '
        || 'WHERE key = v.key'
        || CASE WHEN nested THEN ', instead of one UPDATE per loop iteration in the function' ELSE '' END
    WHEN kind = 'row_by_row_dml' THEN
        'Change all rows in one statement: '
        || regexp_replace(query, '(\S+)\s*=\s*\$(\d+)', '\1 = ANY($\2)')
    ELSE
        'Fetch all rows at once: '
        || regexp_replace(query, '(\S+)\s*=\s*\$(\d+)', '\1 = ANY($\2)')
        || CASE WHEN parent_query IS NOT NULL
                THEN ' with the keys the parent query returned, or join '
                     || coalesce(substring(query from '(?i)from\s+([^\s,;()]+)'), 'the table')
                     || ' to the parent query'
                ELSE ' with all the keys' END
        || CASE WHEN nested THEN ' (the loop runs inside a function: make it one set-based statement)'
                ELSE '; in an ORM, eager-load the association (Rails includes, Django prefetch_related, '
                     || 'Hibernate JOIN FETCH)' END
END
$$;

-- One row per N+1 pattern: the repeated statement, the statement that
-- drove the loop, how often and how long, and how to batch it.
CREATE VIEW sdp.n_plus_one AS
    SELECT p.queryid, p.query, p.kind, p.parent_queryid, p.parent_query,
           p.occurrences,
           round(p.total_repeats::numeric / nullif(p.occurrences, 0), 1) AS avg_repeats,
           p.max_repeats, p.total_exec_ms, p.nested, p.application_name,
           p.first_seen, p.last_seen,
           sdp.n_plus_one_suggestion(p.kind, p.query, p.parent_query, p.nested) AS suggestion,
           p.userid, p.dbid
      FROM sdp.n_plus_one_patterns(true) p
     ORDER BY p.total_exec_ms DESC;

COMMENT ON VIEW sdp.n_plus_one IS
'N+1 query patterns: one statement repeated in a burst by one session, with its parent and a batching suggestion';

GRANT SELECT ON sdp.n_plus_one TO PUBLIC;
