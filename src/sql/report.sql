/* report.sql: the performance report, sdp.report(): text, markdown or one
 * self-contained HTML file with inline SVG charts; its helpers render one
 * section (sdp._report_section), a bar chart (sdp._svg_bars) and escape
 * HTML (sdp._html). */

CREATE FUNCTION sdp._html(v text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT replace(replace(replace(replace(coalesce(v, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')
$$;

-- Whether the report's findings (top and slow queries, N+1 patterns)
-- show the extension's own statements (its functions' calls, its
-- maintenance worker's): smart_dairy_perf.report_own_statements, off by
-- default.  The statistics count them either way.
CREATE FUNCTION sdp._report_own_statements()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT coalesce(current_setting('smart_dairy_perf.report_own_statements', true), 'off')::boolean
$$;

-- Whether a role's statements may be taken for the extension's own by
-- their look (a text naming sdp., application smart_dairy_perf): only for
-- a role that reads all statistics (superusers, so the maintenance worker,
-- included); any other role could dress its statements up so and hide
-- them from the report.
CREATE FUNCTION sdp._report_trusted_role(role oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.oid = role AND pg_catalog.pg_has_role(r.oid, 'pg_read_all_stats', 'USAGE'))
$$;

-- One section: the rows of query rendered as a table in the format, or a
-- line saying there is nothing to report.  Column order is the query's.
-- In HTML: a single wide row (the summary) as name/value lines, and wide
-- tables scrolling inside the page instead of overflowing it.
CREATE FUNCTION sdp._report_section(fmt text, title text, query text, empty text DEFAULT 'nothing to report')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rows json;
    cols text[];
    cells text[][];
    widths int[];
    out text := '';
    line text;
    r json;
    i int;
BEGIN
    EXECUTE format('SELECT coalesce(json_agg(t), ''[]'') FROM (%s) t', query) INTO rows;
    IF json_array_length(rows) = 0 THEN
        RETURN CASE fmt
            WHEN 'html' THEN format(E'<h2>%s</h2>\n<p class="none">%s</p>\n', sdp._html(title), sdp._html(empty))
            WHEN 'markdown' THEN format(E'## %s\n\n_%s_\n\n', title, empty)
            ELSE format(E'%s\n%s\n%s\n\n', title, repeat('-', length(title)), empty) END;
    END IF;
    SELECT array_agg(k) INTO cols FROM json_object_keys(rows -> 0) k;
    IF fmt = 'html' AND json_array_length(rows) = 1 AND array_length(cols, 1) > 6 THEN
        -- one wide row (the summary): a name per line reads better
        RETURN format(E'<h2>%s</h2>\n<table>\n', sdp._html(title))
            || (SELECT string_agg('<tr><th>' || sdp._html(c) || '</th><td>'
                                  || sdp._html(rows -> 0 ->> c) || E'</td></tr>\n', '' ORDER BY o)
                  FROM unnest(cols) WITH ORDINALITY u(c, o))
            || E'</table>\n';
    ELSIF fmt = 'html' THEN
        -- a wide table scrolls inside the page instead of overflowing it
        out := format(E'<h2>%s</h2>\n<div style="overflow-x:auto">\n<table>\n<tr>', sdp._html(title))
            || (SELECT string_agg('<th>' || sdp._html(c) || '</th>', '') FROM unnest(cols) c) || E'</tr>\n';
        FOR r IN SELECT * FROM json_array_elements(rows) LOOP
            out := out || '<tr>' || (SELECT string_agg(
                       CASE WHEN c = 'plan'
                            THEN '<td><pre class="plan">' || sdp._html(r ->> c) || '</pre></td>'
                            WHEN c IN ('suggestion', 'ddl', 'query', 'sample_query', 'advice')
                            THEN '<td><pre>' || sdp._html(r ->> c) || '</pre></td>'
                            ELSE '<td>' || sdp._html(r ->> c) || '</td>' END, '' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o)) || E'</tr>\n';
        END LOOP;
        RETURN out || E'</table>\n</div>\n';
    ELSIF fmt = 'markdown' THEN
        out := format(E'## %s\n\n| %s |\n|%s\n', title, array_to_string(cols, ' | '),
                      repeat(' --- |', array_length(cols, 1)));
        FOR r IN SELECT * FROM json_array_elements(rows) LOOP
            out := out || '| ' || (SELECT string_agg(
                       replace(replace(coalesce(r ->> c, ''), '|', '\|'), E'\n', '<br>'), ' | ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o)) || E' |\n';
        END LOOP;
        RETURN out || E'\n';
    END IF;
    -- text: aligned columns, long cells cut; plans and suggestions follow
    -- their row in full, indented
    SELECT array_agg(greatest(length(c),
               (SELECT max(least(length(coalesce(x ->> c, '')), 60)) FROM json_array_elements(rows) x)) ORDER BY o)
      INTO widths FROM unnest(cols) WITH ORDINALITY u(c, o);
    out := format(E'%s\n%s\n', title, repeat('-', length(title)));
    out := out || (SELECT string_agg(rpad(c, widths[o]), '  ' ORDER BY o)
                     FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion', 'advice')) || E'\n';
    FOR r IN SELECT * FROM json_array_elements(rows) LOOP
        line := (SELECT string_agg(rpad(left(regexp_replace(coalesce(r ->> c, ''), '\s+', ' ', 'g'), 60), widths[o]),
                                   '  ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion', 'advice'));
        out := out || rtrim(line) || E'\n';
        FOR i IN SELECT o FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c IN ('plan', 'suggestion', 'advice') LOOP
            IF r ->> cols[i] IS NOT NULL THEN
                out := out || regexp_replace(r ->> cols[i], '^', '    ', 'gn') || E'\n';
            END IF;
        END LOOP;
    END LOOP;
    RETURN out || E'\n';
END
$$;
-- A duration for people: below a millisecond in microseconds ("12 µs"),
-- not "0.00 ms"; then milliseconds with two decimals.
CREATE FUNCTION sdp._duration_text(ms double precision)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN ms > 0 AND ms < 1 THEN round((ms * 1000)::numeric, CASE WHEN ms < 0.01 THEN 1 ELSE 0 END) || ' µs'
            ELSE round(ms::numeric, 2) || ' ms' END
$$;

-- Inline SVG bar charts for the HTML report.  Latencies (unit 'ms') that
-- span more than a factor of 100 are drawn on a logarithmic axis with a
-- gridline per decade, so that a 0.02 ms lookup and an 800 ms report are
-- both readable; totals (unit 's') stay linear, where bar lengths are
-- shares of the time.
CREATE FUNCTION sdp._svg_bars(title text, labels text[], series text[], vals double precision[][], unit text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    colors text[] := ARRAY['#4e79a7', '#f28e2b', '#e15759'];
    n int := coalesce(array_length(labels, 1), 0);
    k int := coalesce(array_length(series, 1), 0);
    bar int := 12;
    row_h int;
    top_y int := 40;
    left_x int := 330;
    chart_w int := 420;
    vmax double precision;
    vmin double precision;
    log_axis boolean;
    lo int;
    hi int;
    svg text;
    y int;
    v double precision;
    w numeric;
BEGIN
    IF n = 0 THEN RETURN ''; END IF;
    row_h := bar * k + 10;
    SELECT max(x), min(x) FILTER (WHERE x > 0) INTO vmax, vmin FROM unnest(vals) x;
    vmax := greatest(coalesce(vmax, 0), 1e-9);
    log_axis := unit = 'ms' AND vmin IS NOT NULL AND vmax / vmin > 100;
    IF log_axis THEN
        lo := floor(log(vmin))::int;
        hi := greatest(ceil(log(vmax))::int, lo + 1);
    END IF;
    svg := format('<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%s" height="%s" viewBox="0 0 %s %s">',
                  left_x + chart_w + 90, top_y + n * row_h + 30, left_x + chart_w + 90, top_y + n * row_h + 30)
        || format('<title>%s</title><text x="0" y="16" class="ct">%s%s</text>', sdp._html(title), sdp._html(title),
                  CASE WHEN log_axis THEN ' (log scale)' ELSE '' END);
    FOR s IN 1..k LOOP
        svg := svg || format('<rect x="%s" y="24" width="10" height="10" fill="%s"/><text x="%s" y="33" class="lg">%s</text>',
                             left_x + (s - 1) * 90, colors[s], left_x + (s - 1) * 90 + 14, sdp._html(series[s]));
    END LOOP;
    IF log_axis THEN
        FOR d IN lo..hi LOOP
            svg := svg || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#ccc"/>'
                                 || '<text x="%s" y="%s" class="lg" text-anchor="middle">%s</text>',
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y - 2,
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y + n * row_h,
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y + n * row_h + 14,
                                 CASE WHEN unit = 'ms' AND d < 0
                                      THEN trim_scale(round(power(10::numeric, d + 3), greatest(-d - 3, 0))) || ' µs'
                                      ELSE trim_scale(round(power(10::numeric, d), greatest(-d, 0))) || ' ' || unit END);
        END LOOP;
    END IF;
    FOR i IN 1..n LOOP
        y := top_y + (i - 1) * row_h;
        svg := svg || format('<text x="%s" y="%s" class="lb" text-anchor="end">%s</text>', left_x - 6,
                             y + row_h / 2 + 3, sdp._html(left(labels[i], 48)));
        FOR s IN 1..k LOOP
            v := coalesce(vals[i][s], 0);
            w := CASE WHEN NOT log_axis THEN round((chart_w * v / vmax)::numeric, 1)
                      WHEN v <= 0 THEN 0
                      ELSE round((chart_w * greatest(log(v) - lo, 0.01) / (hi - lo))::numeric, 1) END;
            svg := svg || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>'
                                 || '<text x="%s" y="%s" class="vl">%s</text>',
                                 left_x, y + (s - 1) * bar, w, bar - 2, colors[s], sdp._html(series[s]),
                                 CASE WHEN unit = 'ms' THEN sdp._duration_text(v) ELSE round(v::numeric, 3) || ' ' || unit END,
                                 left_x + round(w) + 4, y + (s - 1) * bar + bar - 3,
                                 CASE WHEN unit = 'ms' THEN sdp._duration_text(v) ELSE round(v::numeric, 2) || ' ' || unit END);
        END LOOP;
    END LOOP;
    RETURN svg || '</svg>';
END
$$;


-- The report: summary, top queries, slow queries with plans, N+1, index
-- advice and health, partitions, materialized views, health, and the
-- comparison of two snapshots when given.  format: text, markdown, html.
--
-- Longer than two screens on purpose: the body is the report's table of
-- contents, one sdp._report_section() call per section in the order they
-- are printed, each with the query that fills it; the rendering lives in
-- the helpers above.  Read top to bottom, it is the report.  (Splitting
-- the sections into functions would scatter that list, and would have to
-- be repeated in an upgrade script.)
CREATE FUNCTION sdp.report(format text DEFAULT 'text', before text DEFAULT NULL, after text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fmt text := lower(format);
    out text := '';
    summary text;
    charts text := '';
    labels text[];
    vals double precision[][];
BEGIN
    IF fmt NOT IN ('text', 'markdown', 'html') THEN
        RAISE EXCEPTION 'unknown report format "%"', format
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use text, markdown or html.';
    END IF;
    IF (before IS NULL) <> (after IS NULL) THEN
        RAISE EXCEPTION 'a comparison needs two snapshots'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give both before and after labels, or neither.';
    END IF;
    IF before IS NOT NULL THEN
        PERFORM sdp._snapshot_id(before), sdp._snapshot_id(after);   -- clear errors first
    END IF;

    out := out || sdp._report_section(fmt, 'Summary', $q$
        SELECT (SELECT count(DISTINCT queryid) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS query_shapes,
               (SELECT sum(calls) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS executions,
               (SELECT round((sum(total_exec_time) / 1000)::numeric, 1) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS total_seconds,
               (SELECT round((sum(total_exec_time) / nullif(sum(calls), 0))::numeric, 3) FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS mean_ms,
               (SELECT count(*) FROM sdp.slow_queries) AS slow_executions,
               (SELECT count(*) FROM sdp.n_plus_one) AS n_plus_one_patterns,
               (SELECT count(*) FROM sdp._recommend_indexes(10, current_setting('search_path'))) AS indexes_recommended,
               (SELECT count(*) FROM sdp.unused_indexes) + (SELECT count(*) FROM sdp.duplicate_indexes)
                 + (SELECT count(*) FROM sdp.redundant_indexes) AS indexes_to_drop,
               (SELECT hit_ratio FROM sdp.cache_hit_ratio WHERE scope = 'database') AS cache_hit_ratio,
               (SELECT coalesce(sum(connections), 0) FROM sdp.connections WHERE state LIKE 'idle in transaction%') AS idle_in_transaction
    $q$);

    IF fmt = 'html' THEN
        SELECT array_agg(left(regexp_replace(query, '\s+', ' ', 'g'), 48) ORDER BY total_exec_time DESC),
               array_agg(ARRAY[p50_exec_time, p95_exec_time, p99_exec_time] ORDER BY total_exec_time DESC)
          INTO labels, vals
          FROM (SELECT * FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND t.query IS NOT NULL
                   AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(t.userid)
                        OR (coalesce(t.query, '') !~ '\msdp\.'
                AND t.queryid NOT IN (SELECT s.queryid FROM sdp.query_stats s
                                       WHERE s.application_name LIKE 'smart_dairy_perf%' AND s.queryid IS NOT NULL
                                         AND sdp._report_trusted_role(s.userid))))
                 ORDER BY t.total_exec_time DESC LIMIT 8) x;
        charts := sdp._svg_bars('Latency percentiles of the top queries', labels,
                                ARRAY['p50', 'p95', 'p99'], vals, 'ms');
        SELECT array_agg(left(regexp_replace(query, '\s+', ' ', 'g'), 48) ORDER BY total_exec_time DESC),
               array_agg(ARRAY[total_exec_time / 1000] ORDER BY total_exec_time DESC)
          INTO labels, vals
          FROM (SELECT * FROM sdp.query_totals t
                 WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND t.query IS NOT NULL
                   AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(t.userid)
                        OR (coalesce(t.query, '') !~ '\msdp\.'
                AND t.queryid NOT IN (SELECT s.queryid FROM sdp.query_stats s
                                       WHERE s.application_name LIKE 'smart_dairy_perf%' AND s.queryid IS NOT NULL
                                         AND sdp._report_trusted_role(s.userid))))
                 ORDER BY t.total_exec_time DESC LIMIT 8) x;
        charts := charts || sdp._svg_bars('Time by query', labels, ARRAY['total time'], vals, 's');
        out := out || '<div class="charts">' || charts || E'</div>\n';
    END IF;

    out := out || sdp._report_section(fmt, 'Top queries by total time', $q$
        SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 120) AS query, calls,
               round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
               round(p50_exec_time::numeric, 3) AS p50_ms, round(p95_exec_time::numeric, 3) AS p95_ms,
               round(p99_exec_time::numeric, 3) AS p99_ms
          FROM sdp.query_totals t
         WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(t.userid)
                        OR (coalesce(t.query, '') !~ '\msdp\.'
                AND t.queryid NOT IN (SELECT s.queryid FROM sdp.query_stats s
                                       WHERE s.application_name LIKE 'smart_dairy_perf%' AND s.queryid IS NOT NULL
                                         AND sdp._report_trusted_role(s.userid))))
         ORDER BY total_exec_time DESC LIMIT 10
    $q$, 'no statements profiled yet');
    -- beside each plan, the findings on it (sdp.slow_query_advice) when it
    -- was captured with actual rows
    out := out || sdp._report_section(fmt, 'Slow queries (slowest execution per shape)', $q$
        SELECT at, ms, app, query, plan,
               coalesce((SELECT string_agg(a.severity || ': ' || a.finding || coalesce(' (' || a.node_type
                                           || coalesce(' on ' || a.relation, '') || ')', '')
                                           || E'\n  ' || a.suggestion, E'\n' ORDER BY a.node_id)
                           FROM sdp.slow_query_advice a
                          WHERE a.queryid = x.queryid AND a.executed_at = x.executed_at
                            AND a.finding <> 'time'),
                        CASE WHEN plan_analyzed THEN 'nothing to advise' ELSE '-' END) AS advice
          FROM (
            SELECT DISTINCT ON (queryid) queryid, executed_at, plan_analyzed,
                   to_char(executed_at, 'YYYY-MM-DD HH24:MI:SS') AS at,
                   round(duration_ms::numeric, 1) AS ms, application_name AS app,
                   left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query, plan
              FROM sdp.slow_queries
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND (sdp._report_own_statements() OR NOT sdp._report_trusted_role(userid)
                    OR (coalesce(query, '') !~ '\msdp\.'
                    AND application_name NOT LIKE 'smart_dairy_perf%'))
             ORDER BY queryid, duration_ms DESC) x
         ORDER BY ms DESC LIMIT 5
    $q$, 'no execution slower than smart_dairy_perf.slow_query_ms');
    -- the shapes of one loop side by side, with the parent's rows and the
    -- framework's tags that name the code
    out := out || sdp._report_section(fmt, 'N+1 query patterns', $q$
        SELECT kind, occurrences AS bursts, avg_repeats, avg_parent_rows AS parent_rows,
               CASE WHEN cardinality(loop_queryids) > 1
                    THEN format('%s of %s', loop_position, cardinality(loop_queryids)) ELSE '-' END AS in_loop,
               round(total_exec_ms::numeric, 1) AS burst_ms,
               left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS repeated,
               left(regexp_replace(coalesce(parent_query, '-'), '\s+', ' ', 'g'), 60) AS after,
               coalesce((SELECT string_agg(k || '=' || v, ', ') FROM jsonb_each_text(tags) AS t(k, v)), '-') AS tags,
               suggestion
          FROM sdp.n_plus_one
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (sdp._report_own_statements() OR origin = 'application')
         ORDER BY total_exec_ms DESC, loop_id, loop_position
    $q$, 'no N+1 pattern seen');
    out := out || sdp._report_section(fmt, 'Recommended indexes', $q$
        SELECT "table"::text AS "table", columns, improvement_pct, calls, total_exec_ms, ddl
          FROM sdp._recommend_indexes(10, current_setting('search_path'))
    $q$, 'no index would make the workload faster');
    -- how much of the workload that advice covers (the run just above)
    out := out || sdp._report_section(fmt, 'Index advisor coverage', $q$
        SELECT c.reason AS outcome, c.statements, round(c.time_pct::numeric, 1) AS pct_of_time
          FROM sdp._advisor_last_coverage() c
    $q$, 'no statement profiled in this database');
    out := out || sdp._report_section(fmt, 'Indexes to review', $q$
        SELECT 'unused' AS kind, table_name, index_name, size, drop_ddl AS ddl FROM sdp.unused_indexes
        UNION ALL SELECT 'duplicate', table_name, index_name, size, drop_ddl FROM sdp.duplicate_indexes
        UNION ALL SELECT 'redundant', table_name, index_name, size, drop_ddl FROM sdp.redundant_indexes
        UNION ALL SELECT 'invalid', table_name, index_name, size, fix_ddl FROM sdp.invalid_indexes
        UNION ALL SELECT 'foreign key without index', table_name, constraint_name, NULL, create_ddl
                    FROM sdp.foreign_keys_without_index
    $q$);
    out := out || sdp._report_section(fmt, 'Partitions of managed tables', $q$
        SELECT p.parent::text AS parent, count(*) FILTER (WHERE NOT p.is_default) AS partitions,
               min(p.range_from) AS oldest_from, max(p.range_to) AS newest_to,
               sum(p.row_estimate) FILTER (WHERE p.is_default) AS rows_in_default
          FROM sdp.partitions p WHERE p.managed GROUP BY p.parent ORDER BY 1
    $q$, 'no table is managed by the partition manager');
    out := out || sdp._report_section(fmt, 'Materialized views', $q$
        SELECT matview::text AS matview, refresh_every::text, concurrent_mode, last_refresh::text,
               staleness::text, size, last_status
          FROM sdp.matviews
    $q$, 'no materialized view is registered');
    out := out || sdp._report_section(fmt, 'Largest tables and vacuum state', $q$
        SELECT s.table_name, s.row_estimate AS rows, s.total_size, v.dead_rows, v.dead_pct,
               date_trunc('second', v.vacuum_age)::text AS vacuum_age
          FROM sdp.table_sizes s
          LEFT JOIN sdp.vacuum_health v ON v.schema_name = s.schema_name AND v.table_name = s.table_name
         WHERE s.schema_name NOT IN ('sdp') ORDER BY s.total_bytes DESC LIMIT 10
    $q$);
    IF before IS NOT NULL THEN
        out := out || sdp._report_section(fmt, format('Before and after: %s → %s', before, after), format($q$
            SELECT status, left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS query,
                   calls_before, calls_after, mean_ms_before, mean_ms_after, mean_change_pct,
                   p95_ms_before, p95_ms_after, total_ms_before, total_ms_after
              FROM sdp.compare(%L, %L) LIMIT 15
        $q$, before, after));
    END IF;

    IF fmt = 'html' THEN
        RETURN E'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            || format('<title>smart_dairy_perf report: %s</title>', sdp._html(current_database()))
            || '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}'
            || 'h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}'
            || 'table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 6px;'
            || 'text-align:left;vertical-align:top}th{background:#f4f6f8}pre{margin:0;white-space:pre-wrap;'
            || 'font-size:.9em}pre.plan{white-space:pre;overflow-x:auto;max-width:56em}.none{color:#777;font-style:italic}.charts svg{display:block;margin:1em 0}'
            || '.ct{font-weight:600;font-size:14px}.lb,.lg,.vl{font-size:11px}</style></head><body>'
            || format(E'<h1>smart_dairy_perf report: %s</h1>\n<p>%s</p>\n', sdp._html(current_database()),
                      to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ'))
            || out || E'</body></html>\n';
    ELSIF fmt = 'markdown' THEN
        RETURN format(E'# smart_dairy_perf report: %s\n\n%s\n\n', current_database(),
                      to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ')) || out;
    END IF;
    RETURN format(E'smart_dairy_perf report: %s, %s\n\n', current_database(),
                  to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ')) || out;
END
$$;

REVOKE ALL ON FUNCTION sdp.report(text, text, text) FROM PUBLIC;
