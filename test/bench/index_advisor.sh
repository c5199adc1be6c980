#!/usr/bin/env bash
# Index advice, smart_dairy_perf vs pg_qualstats 2 (Debian's
# postgresql-15-pg-qualstats), in one run on one cluster: the main job's
# dairy schema (primary keys only) and its two-pool pgbench workload, with
# both tools sampling every statement's executed plan (pg_qualstats'
# sample_rate and our predicate_sample_rate at 1; our default is 0.01,
# meant for servers that run for hours, not 20 seconds).  As most real
# applications do, the workload's tables live in their own schema
# (dairy_app), which only the application's sessions have on their
# search_path (PGOPTIONS); both advisors are asked from a default session.
# Then:
#   1. the workload with no extra index (baseline);
#   2. sdp.recommend_indexes() and pg_qualstats_index_advisor() are asked;
#   3. each tool's set is built alone, the workload runs again, the set is
#      dropped; then ours together with the tables-and-columns of
#      pg_qualstats' set that ours does not have (what those add).
# Prints both sets and the throughput and mean latency of each run.
#
#   test/bench/index_advisor.sh [SECONDS]

source "$(dirname "$0")/../lib.sh"
DURATION=${1:-20}
WL=$SDP_ROOT/test/workload

sdp_install_deps postgresql-$PG_MAJOR-pg-qualstats
sdp_build_install
sdp_start_cluster advbench "shared_buffers = 256MB" "max_connections = 50" \
	"shared_preload_libraries = 'smart_dairy_perf,pg_qualstats'" \
	"pg_qualstats.sample_rate = 1" "pg_qualstats.max = 10000" \
	"smart_dairy_perf.predicate_sample_rate = 1"
trap 'sdp_stop_cluster; rm -rf "$SDP_TMP"' EXIT

as_pg createdb dairy
export PGDATABASE=dairy
APP_SCHEMA=dairy_app
sdp_psql -c 'CREATE EXTENSION smart_dairy_perf' -c 'CREATE EXTENSION pg_qualstats' \
	-c "CREATE SCHEMA $APP_SCHEMA"
as_pg env PGOPTIONS="-c search_path=$APP_SCHEMA" psql -X -q -v ON_ERROR_STOP=1 \
	-f "$WL/schema.sql" >/dev/null
sdp_psql -c 'VACUUM ANALYZE' >/dev/null

# both pools at once, in the application's search_path; prints
# "<web tps> <erp tps> <web ms> <erp ms>"
workload() {
	PGOPTIONS="-c search_path=$APP_SCHEMA" sdp_dairy_workload "$DURATION" || exit 1
	echo "$(sdp_pgbench_figure web tps)" "$(sdp_pgbench_figure erp tps)" \
		"$(sdp_pgbench_figure web 'latency average')" "$(sdp_pgbench_figure erp 'latency average')"
}

indexes() { sdp_psql -At -c "SELECT indexname FROM pg_indexes WHERE schemaname = '$APP_SCHEMA' ORDER BY 1"; }

# build a set of CREATE INDEX statements, run the workload, drop what was built
with_set() {
	local ddl_file=$1 before after
	before=$(indexes)
	while IFS= read -r stmt; do
		[ -n "$stmt" ] && sdp_psql -q -c "$stmt"
	done <"$ddl_file"
	sdp_psql -q -c 'ANALYZE'
	after=$(indexes)
	workload
	comm -13 <(echo "$before") <(echo "$after") | while IFS= read -r ix; do
		sdp_psql -q -c "DROP INDEX $APP_SCHEMA.$(printf '%s' "$ix" | sed 's/"/""/g; s/.*/"&"/')"
	done
}

log "baseline workload (${DURATION}s, primary keys only)"
sdp_psql -q -At -c 'SELECT sdp.reset()' -c 'SELECT pg_qualstats_reset()' >/dev/null
workload >"$SDP_TMP/run"
read -r b_web b_erp b_wms b_ems <"$SDP_TMP/run"

log "asking both advisors, from a default session (search_path \"\$user\", public)"
sdp_psql -At -c "SELECT ddl FROM sdp.recommend_indexes()" >"$SDP_TMP/sdp.sql"
sdp_psql -At -c "SELECT json_array_elements_text(pg_qualstats_index_advisor() -> 'indexes')" \
	>"$SDP_TMP/qualstats.sql"
echo; echo "smart_dairy_perf recommends:"; sed 's/^/  /' "$SDP_TMP/sdp.sql"
echo "pg_qualstats recommends:"; sed 's/^/  /' "$SDP_TMP/qualstats.sql"
echo "pg_qualstats leaves unoptimised:"
sdp_psql -At -c "SELECT json_array_elements_text(pg_qualstats_index_advisor() -> 'unoptimised')" | sed 's/^/  /'

log "workload with smart_dairy_perf's indexes"
with_set "$SDP_TMP/sdp.sql" >"$SDP_TMP/run"
read -r s_web s_erp s_wms s_ems <"$SDP_TMP/run"
log "workload with pg_qualstats' indexes"
with_set "$SDP_TMP/qualstats.sql" >"$SDP_TMP/run"
read -r q_web q_erp q_wms q_ems <"$SDP_TMP/run"

# pg_qualstats' indexes whose table (column) is not the leading key of one of ours
cp "$SDP_TMP/sdp.sql" "$SDP_TMP/union.sql"
sort -u "$SDP_TMP/qualstats.sql" | while IFS= read -r stmt; do
	key=$(printf '%s' "$stmt" | sed -n 's/^CREATE INDEX ON \([^ ]*\) USING btree (\([^,)]*\).*/\1 (\2/p')
	tab=${key%% *}; col=${key#* (}
	grep -q "ON ${tab} (${col}[,)]" "$SDP_TMP/sdp.sql" || echo "$stmt"
done >"$SDP_TMP/extra.sql"
cat "$SDP_TMP/extra.sql" >>"$SDP_TMP/union.sql"
echo "pg_qualstats' indexes ours lacks:"; sed 's/^/  /' "$SDP_TMP/extra.sql"
log "workload with smart_dairy_perf's indexes plus those"
with_set "$SDP_TMP/union.sql" >"$SDP_TMP/run"
read -r u_web u_erp u_wms u_ems <"$SDP_TMP/run"

echo
printf '%-28s %12s %12s %14s %14s\n' "indexes" "web_read tps" "erp_write tps" "web_read ms" "erp_write ms"
printf '%-28s %12s %12s %14s %14s\n' "primary keys only" "$b_web" "$b_erp" "$b_wms" "$b_ems"
printf '%-28s %12s %12s %14s %14s\n' "smart_dairy_perf ($(grep -c . "$SDP_TMP/sdp.sql"))" "$s_web" "$s_erp" "$s_wms" "$s_ems"
printf '%-28s %12s %12s %14s %14s\n' "pg_qualstats ($(grep -c . "$SDP_TMP/qualstats.sql"))" "$q_web" "$q_erp" "$q_wms" "$q_ems"
printf '%-28s %12s %12s %14s %14s\n' "ours + pg_qualstats' other ($(grep -c . "$SDP_TMP/extra.sql"))" "$u_web" "$u_erp" "$u_wms" "$u_ems"
