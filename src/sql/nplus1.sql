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
    OUT last_seen timestamptz,
    OUT loop_id bigint,
    OUT loop_queryids bigint[],
    OUT loop_position integer,
    OUT per_iteration integer,
    OUT origin text,
    OUT parent_rows bigint,
    OUT parent_rows_known bigint,
    OUT tags text
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

-- The tags a framework writes in a statement's comment to say which code
-- sent it, as key-value pairs: SQLCommenter (key='value',...; values
-- URL-encoded; one with a %00, a non-ASCII escape or a non-ASCII character
-- is kept as written, so that decoding never fails, whatever the database
-- encoding, SQL_ASCII included) and Rails query log tags / marginalia
-- (key:value,...).
CREATE FUNCTION sdp.query_tags(comment text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT jsonb_object_agg(key, value)
  FROM (SELECT DISTINCT ON (m[1]) m[1] AS key,
               CASE WHEN v !~ '%[0-9A-Fa-f]{2}' OR v ~ '%(00|[89A-Fa-f][0-9A-Fa-f])' OR v ~ '[^\x01-\x7f]' THEN v
                    ELSE (SELECT convert_from(decode(string_agg(
                                     CASE WHEN t[1] ~ '^%' THEN substr(t[1], 2)
                                          ELSE encode(convert_to(t[1], 'UTF8'), 'hex') END,
                                     '' ORDER BY n), 'hex'), 'UTF8')
                            FROM regexp_matches(v, '%[0-9A-Fa-f]{2}|.', 'g') WITH ORDINALITY AS c(t, n))
               END AS value
          FROM regexp_matches(comment,
                              '([A-Za-z_][A-Za-z0-9_.%-]*)\s*[=:]\s*(''[^'']*''|[^,'']*)', 'g')
               WITH ORDINALITY AS x(m, o),
               LATERAL (SELECT btrim(btrim(m[2]), '''') AS v) y
         ORDER BY m[1], o DESC) kv
$$;

-- One row per N+1 pattern: the repeated statement, the statement that
-- drove the loop, the other statements of the same loop, how often and how
-- long, the rows the parent returned, the framework tags, and how to batch
-- it.  A loop of several statements per row (two associations loaded
-- lazily for each order) is one row per statement, with one loop_id.
-- Beside each, one example of the statement and of its parent with their
-- real constants, and the parent's tags read from its example.
CREATE VIEW sdp.n_plus_one AS
    WITH p AS (
        SELECT p.*,
               replace(substring(p.query from '(?i)from\s+([^\s,;()]+)'), '"', '') AS from_table
          FROM sdp.n_plus_one_patterns(true) p
    )
    SELECT p.queryid, p.query, p.kind, p.parent_queryid, p.parent_query,
           p.occurrences,
           round(p.total_repeats::numeric / nullif(p.occurrences, 0), 1) AS avg_repeats,
           p.max_repeats, p.total_exec_ms, p.nested, p.application_name,
           p.first_seen, p.last_seen,
           sdp.n_plus_one_suggestion(p.kind, p.query, p.parent_query, p.nested)
           || CASE WHEN cardinality(p.loop_queryids) > 1 AND p.kind = 'select_loop' THEN
                  CASE WHEN p.per_iteration > 1 AND p.parent_queryid = ANY (p.loop_queryids) THEN
                      format('. It runs %s times for each row of its parent, itself inside the loop: '
                             || 'eager-load the nested association in the outer query '
                             || '(Rails includes(a: :b), Django prefetch_related(''a__b''))', p.per_iteration)
                  ELSE
                      format('. It loops together with %s (%s statements per row): '
                             || 'eager-load these associations together '
                             || '(Rails includes(:a, :b), Django select_related / prefetch_related of both)',
                             coalesce((SELECT string_agg(DISTINCT coalesce(o.from_table, o.queryid::text), ', ')
                                         FROM p o
                                        WHERE o.loop_id = p.loop_id AND o.queryid <> p.queryid),
                                      'other statements'),
                             cardinality(p.loop_queryids))
                  END
              ELSE '' END AS suggestion,
           p.userid, p.dbid,
           p.loop_id, p.loop_queryids, p.loop_position, p.per_iteration,
           round(p.parent_rows::numeric / nullif(p.parent_rows_known, 0), 1) AS avg_parent_rows,
           sdp.query_tags(p.tags) AS tags,
           p.origin,
           rs.sample_query,
           ps.sample_query AS parent_sample_query,
           sdp.query_tags(substring(ps.sample_query from '(?s).*/\*(.*)\*/')) AS parent_tags
      FROM p
      -- one example of each statement with real constants (sdp.query_samples)
      LEFT JOIN LATERAL (
            SELECT s.sample_query FROM sdp.query_samples s
             WHERE s.userid = p.userid AND s.dbid = p.dbid AND s.queryid = p.queryid
             ORDER BY (s.toplevel = NOT p.nested) DESC, (s.application = p.application_name) DESC
             LIMIT 1) rs ON true
      LEFT JOIN LATERAL (
            SELECT s.sample_query FROM sdp.query_samples s
             WHERE s.userid = p.userid AND s.dbid = p.dbid AND s.queryid = p.parent_queryid
             ORDER BY (s.toplevel = NOT p.nested) DESC, (s.application = p.application_name) DESC
             LIMIT 1) ps ON true
     ORDER BY p.total_exec_ms DESC;

COMMENT ON VIEW sdp.n_plus_one IS
'N+1 query patterns: statements repeated in a loop by one session, with their parent, the statements looping with them, the parent''s rows, framework tags and a batching suggestion';

GRANT SELECT ON sdp.n_plus_one TO PUBLIC;
