#!/usr/bin/env bash
# Partition maintenance under a live workload: does it stall the queries?
# pgbench, 8 clients, inserts into and reads from a monthly-partitioned
# table (half each, one statement per transaction, so pgbench's
# per-transaction log is per statement) for RUN seconds; 3 s in, one
# session starts a 5-second reporting transaction that reads the whole
# table; 1 s later maintenance runs with work to do (one partition to
# create ahead, two past the retention to detach).  Scenarios, each on a
# fresh table of its own, one after the other on one cluster:
#   none         no maintenance
#   pg_partman   partman.run_maintenance() (pg_partman 4.7, its default partition)
#   sdp_sql      sdp.run_partition_maintenance(), no default partition
#   sdp_worker   the background worker, no default partition
#   sdp_sql_def  sdp.run_partition_maintenance(), with a default partition
# Printed per scenario: statements, p99 and maximum latency, statements
# that took 100 ms or more, how long the maintenance command took (for
# the worker: the 8 s it is switched on), and what maintenance logged.
#
#   test/bench/partition_locks.sh [RUN_SECONDS]

source "$(dirname "$0")/../lib.sh"
RUN=${1:-20}

sdp_install_deps postgresql-$PG_MAJOR-partman
sdp_build_install
sdp_start_cluster partlocks "shared_buffers = 256MB" "max_connections = 40" \
	"smart_dairy_perf.maintenance_interval = '1s'"
trap 'sdp_stop_cluster; rm -rf "$SDP_TMP"' EXIT
sdp_psql -c 'CREATE EXTENSION smart_dairy_perf' \
	-c 'CREATE SCHEMA partman' -c 'CREATE EXTENSION pg_partman SCHEMA partman'

# table NAME: monthly, 8 months back to 3 ahead, 100k rows in the past months
make_table() {
	sdp_psql -c "CREATE TABLE $1 (id bigint, created_at timestamptz NOT NULL, note text)
	             PARTITION BY RANGE (created_at)"
}
fill() {
	sdp_psql -c "INSERT INTO $1 SELECT g, now() - (g % 230) * interval '1 day', 'x'
	             FROM generate_series(1, 100000) g" -c "ANALYZE $1"
}
START="date_trunc('month', now()) - interval '8 months'"

scripts() {	# NAME -> pgbench scripts in $SDP_TMP
	cat >"$SDP_TMP/ins_$1.sql" <<SQL
\\set id random(1, 10000000)
INSERT INTO $1 (id, created_at, note) VALUES (:id, now(), 'live');
SQL
	cat >"$SDP_TMP/sel_$1.sql" <<SQL
SELECT count(*) FROM $1 WHERE created_at > now() - interval '10 minutes';
SQL
	chown postgres: "$SDP_TMP"/*.sql
}

# run NAME MAINTENANCE_COMMAND: the workload, the report, the maintenance
run() {
	local name=$1 maint=$2
	scripts "$name"
	rm -f "$SDP_TMP"/pgbench_log.*
	( cd "$SDP_TMP" && as_pg pgbench -n -c 8 -j 2 -T "$RUN" \
		-f "ins_$name.sql@1" -f "sel_$name.sql@1" --log --log-prefix="$SDP_TMP/pgbench_log" \
		>"$SDP_TMP/pgbench_$name.out" 2>&1 ) &
	local bench=$!
	sleep 3
	sdp_psql -c "BEGIN; SELECT count(*) FROM $name; SELECT pg_sleep(5); COMMIT;" >/dev/null &
	local report=$!
	sleep 1
	local t0 t1
	t0=$(date +%s.%N)
	[ -n "$maint" ] && eval "$maint"
	t1=$(date +%s.%N)
	wait $report
	wait $bench || { cat "$SDP_TMP/pgbench_$name.out"; exit 1; }
	# fields: client, transaction, latency (us), script, epoch, us
	cat "$SDP_TMP"/pgbench_log.* | awk '{ print $3 }' | sort -n >"$SDP_TMP/lat_$name"
	local n p99 max slow
	n=$(wc -l <"$SDP_TMP/lat_$name")
	p99=$(awk -v n="$n" 'NR == int(n * 0.99 + 0.5) { printf "%.1f", $1 / 1000 }' "$SDP_TMP/lat_$name")
	max=$(tail -n 1 "$SDP_TMP/lat_$name" | awk '{ printf "%.1f", $1 / 1000 }')
	slow=$(awk '$1 >= 100000' "$SDP_TMP/lat_$name" | wc -l)
	RESULT+=("$(printf '%-12s %10s %10s %10s %8s %9.2fs' "$name" "$n" "$p99" "$max" "$slow" "$(echo "$t1 - $t0" | bc -l)")")
}

# none
make_table b_none
sdp_psql -c "SELECT count(*) FROM sdp.manage_partitions('b_none', '1 month', 3, start_at => $START, default_partition => false)" >/dev/null
sdp_psql -c "DELETE FROM sdp.partition_config"
fill b_none

# pg_partman: its own default partition; premake + 1 and a retention
make_table b_partman
sdp_psql -c "SELECT partman.create_parent(p_parent_table => 'public.b_partman', p_control => 'created_at',
	p_type => 'native', p_interval => 'monthly', p_premake => 3, p_start_partition => ($START)::text,
	p_jobmon => false)" >/dev/null
fill b_partman
sdp_psql -c "UPDATE partman.part_config SET premake = 4, retention = '6 months', retention_keep_table = true
	WHERE parent_table = 'public.b_partman'"

# ours: registered, then given the same work
for t in b_sdp_sql b_sdp_worker b_sdp_sql_def; do
	make_table $t
	def=false; [ $t = b_sdp_sql_def ] && def=true
	sdp_psql -c "SELECT count(*) FROM sdp.manage_partitions('$t', '1 month', 3, start_at => $START,
		default_partition => $def)" >/dev/null
	fill $t
done
only() {	# configure only table $1 for our maintenance, with the work to do
	sdp_psql -c "UPDATE sdp.partition_config SET premake = 4, retention = '6 months' WHERE parent = '$1'::regclass" \
		-c "CREATE TABLE IF NOT EXISTS bench_parked AS SELECT * FROM sdp.partition_config WITH NO DATA" \
		-c "INSERT INTO bench_parked SELECT * FROM sdp.partition_config WHERE parent <> '$1'::regclass" \
		-c "DELETE FROM sdp.partition_config WHERE parent <> '$1'::regclass"
}
restore() {
	sdp_psql -c "INSERT INTO sdp.partition_config SELECT * FROM bench_parked" -c "TRUNCATE bench_parked"
}

declare -a RESULT
log "scenario none"
run b_none ""
log "scenario pg_partman"
run b_partman "sdp_psql -c \"SELECT partman.run_maintenance('public.b_partman', p_analyze => false, p_jobmon => false)\" >/dev/null"
log "scenario sdp_sql"
only b_sdp_sql
run b_sdp_sql "sdp_psql -c 'SELECT count(*) FROM sdp.run_partition_maintenance()' >/dev/null 2>&1"
restore
log "scenario sdp_worker"
only b_sdp_worker
run b_sdp_worker "sdp_psql -c \"ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = 'postgres'\" -c 'SELECT pg_reload_conf()' >/dev/null; sleep 8; sdp_psql -c \"ALTER SYSTEM RESET smart_dairy_perf.maintenance_databases\" -c 'SELECT pg_reload_conf()' >/dev/null"
restore
log "scenario sdp_sql_def"
only b_sdp_sql_def
run b_sdp_sql_def "sdp_psql -c 'SELECT count(*) FROM sdp.run_partition_maintenance()' >/dev/null 2>&1"
restore

printf '\n%-12s %10s %10s %10s %8s %10s\n' scenario statements "p99 ms" "max ms" ">=100ms" maintenance
printf '%s\n' "${RESULT[@]}"
echo
sdp_psql -c "SELECT object, action, status, left(message, 110) AS message FROM sdp.maintenance_log
	WHERE action IN ('create partition', 'detach partition', 'drop partition', 'maintenance') ORDER BY id"
sdp_psql -At -c "SELECT 'partitions now: ' || string_agg(parent::text || ' ' || n, ', ' ORDER BY parent::text)
	FROM (SELECT inhparent::regclass AS parent, count(*) AS n FROM pg_inherits WHERE inhparent::regclass::text LIKE 'b\_%'
	      GROUP BY 1) x"
