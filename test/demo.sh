#!/usr/bin/env bash
# The main job (README, first command): install what is missing, build,
# start a throwaway cluster with smart_dairy_perf preloaded (and its
# maintenance worker on), load the dairy marketplace schema (~1.1 million
# rows), partition orders, page_views and audit_logs by month (each with
# its own retention), register reporting materialized views,
# run a mixed workload from two application pools, and print what the
# extension found.
#
#   test/demo.sh                 run it (about two minutes on 2 cores)
#   DURATION=60 test/demo.sh     longer workload (seconds, default 20)
#   KEEP=1 test/demo.sh          leave the cluster running afterwards

source "$(dirname "$0")/lib.sh"
cd "$SDP_ROOT"
DURATION=${DURATION:-20}
WL=$SDP_ROOT/test/workload

sdp_install_deps
sdp_build_install

sdp_start_cluster demo \
	"shared_buffers = 256MB" \
	"max_connections = 50" \
	"smart_dairy_perf.slow_query_ms = 40" \
	"smart_dairy_perf.plan_capture = slow_analyze" \
	"smart_dairy_perf.plan_sample_rate = 0.25" \
	"smart_dairy_perf.maintenance_databases = 'dairy'" \
	"smart_dairy_perf.maintenance_interval = '5s'"
if [ -z "${KEEP:-}" ]; then
	trap 'sdp_stop_cluster; rm -rf "$SDP_TMP"' EXIT
fi

as_pg createdb dairy
export PGDATABASE=dairy
sdp_psql -c 'CREATE EXTENSION smart_dairy_perf'
start=$(date +%s)
sdp_psql -f "$WL/schema.sql"
log "dairy data loaded in $(( $(date +%s) - start ))s: $(sdp_psql -At -c "
	SELECT sum(n_live_tup) FROM pg_stat_user_tables") rows"

# orders by month: convert the loaded table, keep 3 months ahead, and keep
# 12 months: the maintenance worker detaches the older partitions
start=$(date +%s)
sdp_psql -At -c "SELECT count(*) FROM sdp.partition_table('orders', 'created_at', '1 month', 3)" >/dev/null
sdp_psql -c "UPDATE sdp.partition_config SET retention = '12 months' WHERE parent = 'orders'::regclass" \
	-c 'ANALYZE orders' >/dev/null
log "orders converted to monthly partitions in $(( $(date +%s) - start ))s"

# page views (kept 3 months) and audit logs (kept 24 months), monthly, as
# the platform plan partitions them; the worker prunes them from now on
sdp_psql -q -f "$WL/logs.sql" >/dev/null
log "page_views and audit_logs partitioned monthly: $(sdp_psql -At -c "
	SELECT string_agg(parent || ' ' || count, ', ') FROM (SELECT parent, count(*) FROM sdp.partitions
	 WHERE parent IN ('page_views'::regclass, 'audit_logs'::regclass) GROUP BY parent) x") partitions"

# reporting views, kept fresh by the background worker from now on
sdp_psql -f "$WL/matviews.sql" >/dev/null
log "3 materialized views registered; the maintenance worker refreshes them when due"

# the statistics start with the workload, not the load
sdp_psql -At -c 'SELECT sdp.reset()' >/dev/null

# both application pools at once, for DURATION seconds
workload() {
	log "workload: ${DURATION}s, web_read pool (4 clients) + erp_write pool (2 clients)"
	sdp_dairy_workload "$DURATION" || exit 1
	log "web_read: $(sdp_pgbench_figure web tps) tps, erp_write: $(sdp_pgbench_figure erp tps) tps"
}

workload
as_pg psql -X -q -f "$WL/findings.sql"
as_pg psql -X -q -f "$WL/partition_report.sql"

# the plans' workflow: baseline, optimize (the advisor's indexes), measure
# again, report the difference
sdp_psql -At -c "SELECT sdp.snapshot('baseline')" >/dev/null
log "applying the advisor's indexes"
sdp_psql -At -c 'SELECT ddl FROM sdp.recommend_indexes()' >"$SDP_TMP/advice.sql"
while IFS= read -r ddl; do sdp_psql -q -c "$ddl"; done <"$SDP_TMP/advice.sql"
sdp_psql -q -c 'ANALYZE' -c 'SELECT sdp.reset()' >/dev/null
workload
sdp_psql -At -c "SELECT sdp.snapshot('with advised indexes')" >/dev/null
as_pg psql -X -q -f "$WL/comparison.sql"

# measured proof of each advised index: the statements that use it, run
# with and without it (read-only, rolled back)
advised=$(sed -n 's/^CREATE INDEX \(CONCURRENTLY \)\{0,1\}\([^ ]*\) ON .*/\2/p' "$SDP_TMP/advice.sql" | paste -sd, -)
log "validating the advisor's indexes: $advised"
as_pg psql -X -q -v indexes="$advised" -v title="The advisor's indexes" -f "$WL/validation.sql"
# an index a DBA might add by hand for the sales report's 30-day range:
# the planner likes it; measured, it may not pay
sdp_psql -q -c 'CREATE INDEX orders_created_at_idx ON orders (created_at)' -c 'ANALYZE orders'
as_pg psql -X -q -v indexes=orders_created_at_idx -v title="A hand-made range index" \
	-f "$WL/validation.sql"
sdp_psql -q -c 'DROP INDEX orders_created_at_idx'

# the report, as one self-contained HTML file (with charts) and markdown
mkdir -p "$SDP_ROOT/report"
sdp_psql -At -c "SELECT sdp.report('html', 'baseline', 'with advised indexes')" >"$SDP_ROOT/report/dairy_report.html"
sdp_psql -At -c "SELECT sdp.report('markdown', 'baseline', 'with advised indexes')" >"$SDP_ROOT/report/dairy_report.md"
log "report written: $SDP_ROOT/report/dairy_report.html (open it in a browser) and dairy_report.md"

if [ -n "${KEEP:-}" ]; then
	log "cluster left running: psql -h $SDP_SOCK -p $SDP_PORT -U postgres dairy"
	log "stop it with: runuser -u postgres -- pg_ctl -D $SDP_DATA stop"
fi
