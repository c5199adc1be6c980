/* snapshots.sql: the profiler's statistics kept under a label
 * (sdp.snapshots, sdp.snapshot()), and the before/after comparison the
 * platform's plans report by hand (sdp.compare()). */

CREATE TABLE sdp.snapshots (
    id          bigserial PRIMARY KEY,
    label       text NOT NULL UNIQUE,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    -- statistics are cumulative since this reset
    stats_reset timestamptz,
    automatic   boolean NOT NULL DEFAULT false
);
CREATE TABLE sdp.snapshot_queries (
    snapshot_id     bigint NOT NULL REFERENCES sdp.snapshots ON DELETE CASCADE,
    dbid            oid NOT NULL,
    queryid         bigint NOT NULL,
    query           text,
    calls           bigint NOT NULL,
    total_exec_ms   double precision NOT NULL,
    mean_exec_ms    double precision NOT NULL,
    p95_exec_ms     double precision,
    p99_exec_ms     double precision,
    rows            bigint NOT NULL,
    PRIMARY KEY (snapshot_id, dbid, queryid)
);
SELECT pg_catalog.pg_extension_config_dump('sdp.snapshots', 'WHERE NOT automatic');
SELECT pg_catalog.pg_extension_config_dump('sdp.snapshots_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.snapshot_queries', '');

COMMENT ON TABLE sdp.snapshots IS
'labelled copies of the query statistics: sdp.snapshot(label), compared with sdp.compare(before, after)';

-- Keep the statistics now, all users and applications added up per query.
-- Percentiles of a query across applications: the highest of them (an
-- upper bound; per application they are in sdp.query_stats).
CREATE FUNCTION sdp.snapshot(label text, automatic boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    snap bigint;
BEGIN
    IF label IS NULL OR btrim(label) = '' THEN
        RAISE EXCEPTION 'a snapshot needs a label'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example sdp.snapshot(''before indexes'').';
    END IF;
    IF EXISTS (SELECT 1 FROM sdp.snapshots s WHERE s.label = snapshot.label) THEN
        RAISE EXCEPTION 'a snapshot labelled "%" already exists', label
            USING ERRCODE = 'unique_violation',
                  HINT = format('Choose another label, or DELETE FROM sdp.snapshots WHERE label = %L first.', label);
    END IF;
    -- a standby cannot write the snapshot's rows: say where to take them
    IF pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot take a snapshot on a hot standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'A snapshot is rows of sdp.snapshots, and a standby cannot write. This standby''s own statistics stay readable here: sdp.query_stats, sdp.report().',
                  HINT = 'Take snapshots on the primary. To keep this standby''s figures, copy them out, e.g. \copy (SELECT * FROM sdp.query_totals) TO ''standby_stats.csv'' CSV HEADER';
    END IF;
    INSERT INTO sdp.snapshots (label, stats_reset, automatic)
    SELECT label, i.stats_reset, automatic FROM sdp.profiler_info i
    RETURNING id INTO snap;
    INSERT INTO sdp.snapshot_queries
    SELECT snap, q.dbid, q.queryid, min(q.query), sum(q.calls), sum(q.total_exec_time),
           sum(q.total_exec_time) / greatest(sum(q.calls), 1),
           max(q.p95_exec_time), max(q.p99_exec_time), sum(q.rows)
      FROM sdp.query_totals q
     WHERE q.queryid IS NOT NULL
     GROUP BY q.dbid, q.queryid;
    RETURN snap;
END
$$;

CREATE FUNCTION sdp._snapshot_id(label text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    snap bigint;
BEGIN
    SELECT s.id INTO snap FROM sdp.snapshots s WHERE s.label = _snapshot_id.label;
    IF snap IS NULL THEN
        RAISE EXCEPTION 'no snapshot labelled "%"', label
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT label, taken_at FROM sdp.snapshots lists them.';
    END IF;
    RETURN snap;
END
$$;

-- Per query of this database, and a first row for the whole workload:
-- calls, mean, p95 and total time in each snapshot and the change in
-- percent; queries only in the second are 'new', only in the first
-- 'vanished'.  When the second snapshot continues the first (same
-- statistics reset), its calls and times are the difference: what ran in
-- between (percentiles stay those of each snapshot: a histogram is not
-- kept).
CREATE FUNCTION sdp.compare(before text, after text)
RETURNS TABLE (status text, queryid bigint, query text,
               calls_before bigint, calls_after bigint,
               mean_ms_before numeric, mean_ms_after numeric, mean_change_pct numeric,
               p95_ms_before numeric, p95_ms_after numeric, p95_change_pct numeric,
               total_ms_before numeric, total_ms_after numeric, total_change_pct numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH b AS (SELECT sdp._snapshot_id(before) AS id), a AS (SELECT sdp._snapshot_id(after) AS id),
cont AS (
    -- the later snapshot counts on from the earlier one
    SELECT sb.stats_reset IS NOT DISTINCT FROM sa.stats_reset AND sa.taken_at > sb.taken_at AS yes
      FROM sdp.snapshots sb, sdp.snapshots sa, a, b WHERE sb.id = b.id AND sa.id = a.id
),
qb AS (SELECT q.* FROM sdp.snapshot_queries q, b WHERE q.snapshot_id = b.id
        AND q.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())),
qa0 AS (SELECT q.* FROM sdp.snapshot_queries q, a WHERE q.snapshot_id = a.id
         AND q.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())),
qa AS (
    SELECT x.queryid, x.query,
           x.calls - CASE WHEN (SELECT yes FROM cont) THEN coalesce(y.calls, 0) ELSE 0 END AS calls,
           x.total_exec_ms - CASE WHEN (SELECT yes FROM cont) THEN coalesce(y.total_exec_ms, 0) ELSE 0 END AS total_exec_ms,
           x.p95_exec_ms
      FROM qa0 x LEFT JOIN qb y USING (queryid)
),
pairs AS (
    SELECT coalesce(qa.queryid, qb.queryid) AS queryid, coalesce(qa.query, qb.query) AS query,
           qb.calls AS cb, nullif(qa.calls, 0) AS ca,
           qb.total_exec_ms AS tb, CASE WHEN qa.calls > 0 THEN qa.total_exec_ms END AS ta,
           qb.p95_exec_ms AS pb, CASE WHEN qa.calls > 0 THEN qa.p95_exec_ms END AS pa
      FROM qa FULL JOIN qb USING (queryid)
),
rows AS (
    SELECT CASE WHEN cb IS NULL THEN 'new' WHEN ca IS NULL THEN 'vanished' ELSE 'changed' END AS status,
           queryid, query, cb, ca, tb / nullif(cb, 0) AS mb, ta / nullif(ca, 0) AS ma, pb, pa, tb, ta
      FROM pairs
),
total AS (
    SELECT 'workload'::text, NULL::bigint, 'all queries'::text,
           sum(cb)::bigint, sum(ca)::bigint,
           sum(tb) / nullif(sum(cb), 0), sum(ta) / nullif(sum(ca), 0),
           NULL::double precision, NULL::double precision, sum(tb), sum(ta)
      FROM rows
)
SELECT s, qid, q, cb, ca, round(mb::numeric, 3), round(ma::numeric, 3),
       round((100 * (ma - mb) / nullif(mb, 0))::numeric, 1),
       round(pb::numeric, 3), round(pa::numeric, 3),
       round((100 * (pa - pb) / nullif(pb, 0))::numeric, 1),
       round(tb::numeric, 1), round(ta::numeric, 1),
       round((100 * (ta - tb) / nullif(tb, 0))::numeric, 1)
  FROM (SELECT * FROM total
        UNION ALL
        SELECT * FROM rows) r(s, qid, q, cb, ca, mb, ma, pb, pa, tb, ta)
 ORDER BY s <> 'workload', coalesce(tb, 0) + coalesce(ta, 0) DESC, qid
$$;

REVOKE ALL ON FUNCTION sdp.snapshot(text, boolean) FROM PUBLIC;

GRANT SELECT ON sdp.snapshots TO PUBLIC;
