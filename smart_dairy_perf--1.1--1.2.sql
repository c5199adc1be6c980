/* smart_dairy_perf--1.1--1.2.sql: predicates observed in executed plans */

-- complain if script is sourced in psql, rather than through ALTER EXTENSION
\echo Use "ALTER EXTENSION smart_dairy_perf UPDATE TO '1.2'" to load this file. \quit

CREATE FUNCTION sdp._observed_predicates(
    OUT relid oid, OUT kind text, OUT predicate text, OUT samples bigint,
    OUT est_executions double precision, OUT rows_kept double precision,
    OUT rows_removed double precision, OUT est_total_ms double precision,
    OUT queryid bigint, OUT last_seen timestamptz, OUT what_if_query text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sdp_observed_predicates_sql'
LANGUAGE C VOLATILE STRICT;

-- What sampled executions of this database's statements tested, one row per
-- table (partitions folded into their partitioned table), kind and set of
-- column tests: a filter that removed rows, the join key of a full scan, or
-- ORDER BY ... LIMIT sorted after a scan.  The index advisor plans
-- what_if_query for the ones the profiled statements do not account for.
CREATE VIEW sdp.observed_predicates AS
SELECT n.nspname AS schema_name, c.relname AS table_name, p.relid, p.kind, p.predicate,
       p.samples, round(p.est_executions) AS est_executions,
       p.rows_kept, p.rows_removed,
       round((p.rows_removed / nullif(p.rows_kept + p.rows_removed, 0))::numeric, 4) AS removed_fraction,
       round(p.est_total_ms::numeric, 3) AS est_total_ms,
       p.queryid, p.last_seen, p.what_if_query
  FROM sdp._observed_predicates() p
  JOIN pg_catalog.pg_class c ON c.oid = p.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;

-- which tables and columns other roles' statements test is for monitoring roles
REVOKE ALL ON FUNCTION sdp._observed_predicates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp._observed_predicates() TO pg_read_all_stats;
REVOKE ALL ON sdp.observed_predicates FROM PUBLIC;
GRANT SELECT ON sdp.observed_predicates TO pg_read_all_stats;

-- Index advice: covering (INCLUDE) and partial candidates; the C function
-- returns the index definition so the DDL carries them.
DROP FUNCTION sdp.recommend_indexes(numeric);
DROP FUNCTION sdp._index_advice(double precision);

CREATE FUNCTION sdp._index_advice(min_improvement_pct double precision)
RETURNS TABLE (relid oid, columns text, est_cost_before double precision,
               est_cost_after double precision, improvement_pct double precision,
               queryids bigint[], sample_query text, calls bigint,
               total_exec_ms double precision, est_size_bytes bigint,
               est_saved_ms double precision, definition text)
AS 'MODULE_PATHNAME', 'sdp_index_advice'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION sdp.recommend_indexes(min_improvement_pct numeric DEFAULT 10)
RETURNS TABLE ("table" regclass, columns text, ddl text,
               est_cost_before numeric, est_cost_after numeric, improvement_pct numeric,
               queryids bigint[], sample_query text, calls bigint, total_exec_ms numeric,
               est_size_bytes bigint, write_overhead text)
LANGUAGE sql VOLATILE
AS $$
SELECT a.relid::regclass, a.columns,
       -- PostgreSQL cannot build a partitioned index concurrently
       format(CASE WHEN c.relkind = 'p' THEN 'CREATE INDEX %I ON %I.%I %s;'
                   ELSE 'CREATE INDEX CONCURRENTLY %I ON %I.%I %s;' END,
              sdp._index_name(c.relname, a.columns), n.nspname, c.relname, a.definition),
       round(a.est_cost_before::numeric, 1), round(a.est_cost_after::numeric, 1),
       round(a.improvement_pct::numeric, 1), a.queryids, a.sample_query, a.calls,
       round(a.total_exec_ms::numeric, 1), a.est_size_bytes,
       format('%s writes/day on the table, each also updating this index', w.per_day)
  FROM sdp._index_advice(min_improvement_pct::double precision) a
  JOIN pg_catalog.pg_class c ON c.oid = a.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (
      SELECT round(coalesce(sum(pg_catalog.pg_stat_get_tuples_inserted(l)
                                + pg_catalog.pg_stat_get_tuples_updated(l)
                                + pg_catalog.pg_stat_get_tuples_deleted(l)), 0)
                   / greatest(extract(epoch FROM sdp._stats_age()) / 86400, 1 / 24.0)) AS per_day
        FROM sdp._leaves(a.relid) l) w
 ORDER BY a.est_saved_ms DESC
$$;

-- It reads every user's statements: superusers, or roles granted it.
REVOKE ALL ON FUNCTION sdp._index_advice(double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.recommend_indexes(numeric) FROM PUBLIC;

-- Report charts: latencies (unit 'ms') that span more than a factor of 100
-- are drawn on a logarithmic axis with a gridline per decade, so that a
-- 0.02 ms lookup and an 800 ms report are both readable; totals (unit 's')
-- stay linear, where bar lengths are shares of the time.
CREATE OR REPLACE FUNCTION sdp._svg_bars(title text, labels text[], series text[], vals double precision[][], unit text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
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
                                 || '<text x="%s" y="%s" class="lg" text-anchor="middle">%s %s</text>',
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y - 2,
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y + n * row_h,
                                 left_x + round(chart_w * (d - lo)::numeric / (hi - lo), 1), top_y + n * row_h + 14,
                                 trim_scale(round(power(10::numeric, d), greatest(-d, 0))), unit);
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
            svg := svg || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s %s</title></rect>'
                                 || '<text x="%s" y="%s" class="vl">%s</text>',
                                 left_x, y + (s - 1) * bar, w, bar - 2, colors[s], sdp._html(series[s]),
                                 round(v::numeric, 3), unit,
                                 left_x + round(w) + 4, y + (s - 1) * bar + bar - 3,
                                 round(v::numeric, 2) || ' ' || unit);
        END LOOP;
    END LOOP;
    RETURN svg || '</svg>';
END
$$;


-- Index health leaves out the tables of extensions (this one's sdp tables,
-- PostGIS's, ...): their indexes are the extension's, not the DBA's to drop.
CREATE OR REPLACE VIEW sdp._user_indexes AS
    SELECT i.indexrelid, i.indrelid, n.nspname AS schema_name, t.relname AS table_name,
           c.relname AS index_name, am.amname, c.relkind, c.relispartition AS is_partition,
           i.indisunique, i.indisprimary,
           i.indisexclusion, i.indisreplident, i.indisvalid, i.indisready,
           i.indnkeyatts, i.indnatts,
           (i.indkey::int2[])[0:i.indnkeyatts - 1] AS key_cols,
           (i.indclass::oid[])[0:i.indnkeyatts - 1] AS key_opclasses,
           (i.indcollation::oid[])[0:i.indnkeyatts - 1] AS key_collations,
           (i.indoption::int2[])[0:i.indnkeyatts - 1] AS key_options,
           pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS expressions,
           pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
           i.indkey::int2[] AS all_cols,
           EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid
                      AND k.contype IN ('p', 'u', 'x')) AS backs_constraint,
           leaves.pages * current_setting('block_size')::bigint AS size_bytes,
           leaves.scans AS idx_scan,
           pg_catalog.pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_catalog.pg_am am ON am.oid = c.relam
     CROSS JOIN LATERAL (
          SELECT coalesce(sum(lc.relpages), 0)::bigint AS pages,
                 coalesce(sum(pg_catalog.pg_stat_get_numscans(l)), 0)::bigint AS scans
            FROM sdp._leaves(i.indexrelid) l JOIN pg_catalog.pg_class lc ON lc.oid = l) leaves
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
       AND c.relkind IN ('i', 'I')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = t.oid AND d.deptype = 'e');


-- Report sections in HTML: a single wide row (the summary) as name/value
-- lines, and wide tables scrolling inside the page instead of overflowing it.
CREATE OR REPLACE FUNCTION sdp._report_section(fmt text, title text, query text, empty text DEFAULT 'nothing to report')
RETURNS text
LANGUAGE plpgsql VOLATILE
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
                       CASE WHEN c IN ('plan', 'suggestion', 'ddl', 'query', 'sample_query')
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
                     FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion')) || E'\n';
    FOR r IN SELECT * FROM json_array_elements(rows) LOOP
        line := (SELECT string_agg(rpad(left(regexp_replace(coalesce(r ->> c, ''), '\s+', ' ', 'g'), 60), widths[o]),
                                   '  ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c NOT IN ('plan', 'suggestion'));
        out := out || rtrim(line) || E'\n';
        FOR i IN SELECT o FROM unnest(cols) WITH ORDINALITY u(c, o) WHERE c IN ('plan', 'suggestion') LOOP
            IF r ->> cols[i] IS NOT NULL THEN
                out := out || regexp_replace(r ->> cols[i], '^', '    ', 'gn') || E'\n';
            END IF;
        END LOOP;
    END LOOP;
    RETURN out || E'\n';
END
$$;
