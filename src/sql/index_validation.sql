/* index_validation.sql: hide an index from this session's planner, and
 * measure the profiled statements with and without it (index_hiding.c,
 * index_validation.c), before building or dropping one. */

-- Hidden for the calling session only, until unhidden or the session ends;
-- the index is still maintained and still enforces its constraint.
-- Session state only, like SET enable_indexscan: open to every role.
CREATE FUNCTION sdp.hide_index(index regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sdp_hide_index'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION sdp.hide_index(regclass) IS
'hide an index from this session''s planner; true when newly hidden';

CREATE FUNCTION sdp.unhide_index(index regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sdp_unhide_index'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION sdp.unhide_index(regclass) IS
'show a hidden index to this session''s planner again; true when it was hidden';

CREATE FUNCTION sdp.hidden_indexes()
RETURNS TABLE (index regclass, "table" regclass)
AS 'MODULE_PATHNAME', 'sdp_hidden_indexes'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION sdp._validate_index(index regclass, runs integer, timeout_ms integer)
RETURNS TABLE (queryid bigint, sample_query text, calls bigint, total_exec_ms double precision,
               ms_with_index double precision, ms_without_index double precision,
               speedup double precision, runs integer, verdict text, error text)
AS 'MODULE_PATHNAME', 'sdp_validate_index'
LANGUAGE C STRICT VOLATILE;

-- The profiled statements whose plan uses the index, run again from their
-- samples (read-only, rolled back, each with timeout_ms) with the index
-- visible and hidden: the median measured time of each, heaviest first.
CREATE FUNCTION sdp.validate_index(index regclass, runs integer DEFAULT 3,
                                   timeout_ms integer DEFAULT 5000)
RETURNS TABLE (queryid bigint, sample_query text, calls bigint, total_exec_ms numeric,
               ms_with_index numeric, ms_without_index numeric, speedup numeric,
               runs integer, verdict text, error text)
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT v.queryid, v.sample_query, v.calls, round(v.total_exec_ms::numeric, 1),
       round(v.ms_with_index::numeric, 3), round(v.ms_without_index::numeric, 3),
       round(v.speedup::numeric, 2), v.runs, v.verdict, v.error
  FROM sdp._validate_index(index, runs, timeout_ms) v
 ORDER BY v.total_exec_ms DESC, v.queryid
$$;

-- It runs other roles' statements as them: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp._validate_index(regclass, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.validate_index(regclass, integer, integer) FROM PUBLIC;
