/* metrics.sql: the Prometheus exposition, sdp.metrics(): top queries with
 * latency histograms, N+1 patterns, partitions, materialized-view
 * staleness, cache hits, connections, the profiler's state. */

CREATE FUNCTION sdp._query_histograms()
RETURNS TABLE (dbid oid, queryid bigint, le_ms double precision, count bigint)
AS 'MODULE_PATHNAME', 'sdp_query_histograms'
LANGUAGE C VOLATILE;

-- A label value in the exposition format: backslash, quote, newline escaped.
CREATE FUNCTION sdp._prom_label(v text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT '"' || replace(replace(replace(coalesce(v, ''), E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') || '"'
$$;

-- One metric family: HELP and TYPE lines, then its samples.
CREATE FUNCTION sdp._prom_family(name text, kind text, help text, samples text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT format(E'# HELP %s %s\n# TYPE %s %s\n', name, help, name, kind) || coalesce(samples, '')
$$;

-- The Prometheus text format (version 0.0.4) for this database: the top
-- queries by total time (calls, latency histogram), N+1 patterns,
-- partitions ahead per managed table, materialized-view staleness, cache
-- hits, connections, and the profiler's own state.  Serve it with any
-- exporter that runs a query (postgres_exporter, sql_exporter) or a cron
-- job writing a node_exporter textfile.
CREATE FUNCTION sdp.metrics(top integer DEFAULT 20)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
WITH me AS (SELECT oid AS dbid, datname FROM pg_catalog.pg_database WHERE datname = current_database()),
q AS (
    SELECT t.queryid, sum(t.calls) AS calls, sum(t.total_exec_time) AS total_ms
      FROM sdp.query_totals t, me
     WHERE t.dbid = me.dbid AND t.queryid IS NOT NULL
     GROUP BY t.queryid
     ORDER BY sum(t.total_exec_time) DESC
     LIMIT top
),
lbl AS (
    SELECT q.*, format('datname=%s,queryid=%s', sdp._prom_label(me.datname),
                       sdp._prom_label(q.queryid::text)) AS l
      FROM q, me
),
hist AS (
    SELECT h.queryid, h.le_ms, sum(h.count) AS count
      FROM sdp._query_histograms() h, me
     WHERE h.dbid = me.dbid AND h.queryid IN (SELECT queryid FROM q)
     GROUP BY h.queryid, h.le_ms
)
SELECT
  sdp._prom_family('sdp_query_calls_total', 'counter',
      'Executions of each of the top statements by total time since the statistics reset.',
      (SELECT string_agg(format(E'sdp_query_calls_total{%s} %s\n', l, calls), '' ORDER BY total_ms DESC) FROM lbl))
  || sdp._prom_family('sdp_query_exec_seconds', 'histogram',
      'Execution time of each of the top statements.',
      (SELECT string_agg(
           (SELECT string_agg(format(E'sdp_query_exec_seconds_bucket{%s,le="%s"} %s\n', lbl.l,
                                     (h.le_ms / 1000)::text, h.count), '' ORDER BY h.le_ms)
              FROM hist h WHERE h.queryid = lbl.queryid)
           || format(E'sdp_query_exec_seconds_bucket{%s,le="+Inf"} %s\n', l, calls)
           || format(E'sdp_query_exec_seconds_sum{%s} %s\n', l, round((total_ms / 1000)::numeric, 6))
           || format(E'sdp_query_exec_seconds_count{%s} %s\n', l, calls), '' ORDER BY total_ms DESC)
         FROM lbl))
  || sdp._prom_family('sdp_nplus1_bursts_total', 'counter',
      'N+1 bursts seen per repeated statement.',
      (SELECT string_agg(format(E'sdp_nplus1_bursts_total{queryid=%s,kind=%s} %s\n',
                                sdp._prom_label(n.queryid::text), sdp._prom_label(n.kind), n.occurrences), ''
                         ORDER BY n.queryid)
         FROM sdp.n_plus_one n WHERE n.queryid IS NOT NULL))
  || sdp._prom_family('sdp_nplus1_seconds_total', 'counter',
      'Execution time spent inside N+1 bursts per repeated statement.',
      (SELECT string_agg(format(E'sdp_nplus1_seconds_total{queryid=%s,kind=%s} %s\n',
                                sdp._prom_label(n.queryid::text), sdp._prom_label(n.kind),
                                round((n.total_exec_ms / 1000)::numeric, 6)), '' ORDER BY n.queryid)
         FROM sdp.n_plus_one n WHERE n.queryid IS NOT NULL))
  || sdp._prom_family('sdp_partitions_ahead', 'gauge',
      'Partitions of a managed table that start in the future.',
      (SELECT string_agg(format(E'sdp_partitions_ahead{parent=%s} %s\n', sdp._prom_label(c.parent::text),
                                (SELECT count(*) FROM sdp._range_partitions(
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'), c.parent) p
                                  WHERE NOT p.is_default AND p.from_local > (now() AT TIME ZONE
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC')))), ''
                         ORDER BY c.parent::text)
         FROM sdp.partition_config c JOIN pg_catalog.pg_class k ON k.oid = c.parent))
  || sdp._prom_family('sdp_partitions_missing', 'gauge',
      'Partitions a managed table lacks to cover its premake window (0 when maintenance is on time).',
      (SELECT string_agg(format(E'sdp_partitions_missing{parent=%s} %s\n', sdp._prom_label(c.parent::text),
                                greatest(c.premake - (SELECT count(*) FROM sdp._range_partitions(
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'), c.parent) p
                                  WHERE NOT p.is_default AND p.from_local > (now() AT TIME ZONE
                                     coalesce(current_setting('smart_dairy_perf.partition_timezone', true), 'UTC'))), 0)), ''
                         ORDER BY c.parent::text)
         FROM sdp.partition_config c JOIN pg_catalog.pg_class k ON k.oid = c.parent))
  || sdp._prom_family('sdp_matview_staleness_seconds', 'gauge',
      'How long a registered materialized view has lagged behind its base tables (0 when current).',
      (SELECT string_agg(format(E'sdp_matview_staleness_seconds{matview=%s} %s\n', sdp._prom_label(m.matview::text),
                                coalesce(round(extract(epoch FROM m.staleness)::numeric, 3), 0)), '' ORDER BY m.matview::text)
         FROM sdp.matviews m))
  || sdp._prom_family('sdp_cache_hit_ratio', 'gauge',
      'Share of block reads of this database served from shared buffers.',
      (SELECT format(E'sdp_cache_hit_ratio{datname=%s} %s\n', sdp._prom_label(c.name), coalesce(c.hit_ratio, 1))
         FROM sdp.cache_hit_ratio c WHERE c.scope = 'database'))
  || sdp._prom_family('sdp_connections', 'gauge',
      'Client connections to this database by state.',
      (SELECT string_agg(format(E'sdp_connections{state=%s} %s\n', sdp._prom_label(state), n), '' ORDER BY state)
         FROM (SELECT c.state, sum(c.connections) AS n FROM sdp.connections c
                WHERE c.database = current_database() GROUP BY c.state) x))
  || sdp._prom_family('sdp_slow_plan_findings', 'gauge',
      'Findings of plan advice on the slow executions captured with actual rows (sdp.slow_query_advice), by severity.',
      (SELECT string_agg(format(E'sdp_slow_plan_findings{severity=%s} %s\n', sdp._prom_label(s.severity),
                                coalesce(f.n, 0)), '' ORDER BY s.severity)
         FROM unnest(ARRAY['high', 'medium']) s(severity)
         LEFT JOIN (SELECT a.severity, count(*) AS n FROM sdp.slow_query_advice a
                     WHERE a.finding <> 'time' GROUP BY a.severity) f USING (severity)))
  || sdp._prom_family('sdp_profiler_entries', 'gauge',
      'Statement statistics entries held in shared memory.',
      (SELECT format(E'sdp_profiler_entries %s\n', i.entries) FROM sdp.profiler_info i))
  || sdp._prom_family('sdp_profiler_evictions_total', 'counter',
      'Entries evicted to make room since the last full reset.',
      (SELECT format(E'sdp_profiler_evictions_total %s\n', i.evictions) FROM sdp.profiler_info i))
$$;
