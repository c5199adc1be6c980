/* query_samples.sql: per profiled shape, the context it ran in and one
 * text with its real constants (query_samples.c): what the index advisor
 * plans, and what the N+1 report shows beside a pattern. */

CREATE FUNCTION sdp._query_samples(
    OUT userid oid,
    OUT dbid oid,
    OUT queryid bigint,
    OUT toplevel boolean,
    OUT application text,
    OUT search_path text,
    OUT sample_query text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_query_samples'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- One row per row of sdp.query_stats (same user, database, query id,
-- top-level flag and application): the search_path the shape was first
-- run under (NULL when longer than 255 bytes) and the text of that first
-- execution with its constants, cut at max_query_text (NULL with
-- smart_dairy_perf.query_samples off).  Another user's are shown only to
-- members of pg_read_all_stats, as the normalized text is.
CREATE VIEW sdp.query_samples AS
    SELECT * FROM sdp._query_samples();

COMMENT ON VIEW sdp.query_samples IS
'per query shape: the search_path it first ran under and one text with its real constants';

GRANT SELECT ON sdp.query_samples TO PUBLIC;
