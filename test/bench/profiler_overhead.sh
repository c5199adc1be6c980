#!/usr/bin/env bash
# Profiler overhead, side by side with pg_stat_statements, in one run.
#
# 1. Instructions per query (deterministic): callgrind counts a single-user
#    backend (postgres --single) running N1 and then N2 point SELECTs;
#    per-query cost = (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up cancels out.
# 2. pgbench -S -M prepared TPS, configurations interleaved round after
#    round on one server data directory; medians and ratios.
# 3. Utility statements and planning (callgrind, as in 1): per statement
#    for a point SELECT, a SET and a CREATE TEMP TABLE + DROP TABLE pair,
#    pg_stat_statements against smart_dairy_perf with the same
#    track_utility and track_planning settings (defaults: utility on,
#    planning off; utility off; planning on).
#
#   [N1=2000 N2=6000 CLIENTS=2 ONLY=utility CONFIGS="..."] test/bench/profiler_overhead.sh [ROUNDS] [SECONDS]
#
# ONLY=utility runs part 3 alone; U_WORKLOADS="sel set temp" picks its
# statements, U_N1/U_N2 (500/1500) their counts.  Each CREATE TEMP TABLE run
# starts on a fresh copy of an empty cluster (dead catalog rows left by an
# earlier run would make the later ones dearer).  Even so a pair costs about
# 1.27 million instructions and two identical runs differ by up to ~2,000
# per pair: more than either extension adds, so compare those figures over
# several runs, not one.
#
# CONFIGS limits the callgrind part to some configurations (none is always
# measured); ROUNDS=0 skips pgbench.  4. Statements nested in PL/pgSQL:
# callgrind counts a single-user backend calling a function that loops 100
# point SELECTs, N1/100 and N2/100 times; per inner statement as in 1, with
# and without N+1 detection, with track = top and all, against
# pg_stat_statements with track = top and all.
#
# Configurations: nothing preloaded; only the query id computed (the jumble
# both tools need, as a reference); pg_stat_statements; smart_dairy_perf
# with defaults (slow-query capture armed at 1 s, never triggered; N+1
# detection on); the same with N+1 detection off (the detector's own cost);
# smart_dairy_perf with every statement captured as slow with its plan
# (slow_query_ms = 0: the cost when capture fires); with slow_analyze
# instrumentation on every statement (plan_sample_rate = 1); without the
# index advisor's predicate sampling (predicate_sample_rate = 0, against
# the default 0.01: what sampling costs on average) and with every
# statement's plan searched for predicates (rate 1: the cost of one sample).

source "$(dirname "$0")/../lib.sh"
ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-10}
N1=${N1:-2000}
N2=${N2:-6000}
CLIENTS=${CLIENTS:-2}

sdp_install_deps
sdp_build_install

declare -A CONF
CONF[none]=""
CONF[queryid]="-c compute_query_id=on"
CONF[pgss]="-c shared_preload_libraries=pg_stat_statements"
CONF[sdp]="-c shared_preload_libraries=smart_dairy_perf"
CONF[sdp_no_nplus1]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.nplus1_detection=off"
CONF[sdp_capture]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.slow_query_ms=0 -c smart_dairy_perf.max_slow_queries=100"
CONF[sdp_analyze]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.plan_capture=slow_analyze -c smart_dairy_perf.plan_sample_rate=1"
# every statement captured as slow with actual rows: text plan, plus the
# structured (JSON) plan the findings read, against sdp_capture (text only)
CONF[sdp_capture_analyze]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.slow_query_ms=0 -c smart_dairy_perf.max_slow_queries=100 -c smart_dairy_perf.plan_capture=slow_analyze -c smart_dairy_perf.plan_sample_rate=1"
CONF[sdp_capture_analyze_nojson]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.slow_query_ms=0 -c smart_dairy_perf.max_slow_queries=100 -c smart_dairy_perf.plan_capture=slow_analyze -c smart_dairy_perf.plan_sample_rate=1 -c smart_dairy_perf.max_plan_json=0"
CONF[sdp_no_predicates]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.predicate_sample_rate=0"
CONF[sdp_predicates_all]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.predicate_sample_rate=1"
ORDER=(none queryid pgss sdp sdp_no_nplus1 sdp_capture sdp_analyze sdp_capture_analyze_nojson sdp_capture_analyze sdp_no_predicates sdp_predicates_all)
if [ -n "${CONFIGS:-}" ]; then
	# shellcheck disable=SC2206
	ORDER=(none $CONFIGS)
fi
# nested statements (3.)
CONF[pgss_all]="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
CONF[sdp_all]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.track=all"
CONF[sdp_all_no_nplus1]="-c shared_preload_libraries=smart_dairy_perf -c smart_dairy_perf.track=all -c smart_dairy_perf.nplus1_detection=off"
NESTED=(none pgss pgss_all sdp sdp_no_nplus1 sdp_all sdp_all_no_nplus1)

sdp_start_cluster bench "shared_preload_libraries = ''"
as_pg pgbench -i -q -s 10 postgres >/dev/null 2>&1
sdp_psql -c "CREATE FUNCTION lookup_loop() RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE total bigint := 0; b int;
BEGIN
    FOR i IN 1..100 LOOP
        SELECT abalance INTO b FROM pgbench_accounts WHERE aid = 1 + (i * 7919) % 1000000;
        total := total + b;
    END LOOP;
    RETURN total;
END \$\$" postgres
sdp_stop_cluster
OUT=$SDP_TMP/out
mkdir -p "$OUT" && chown postgres: "$OUT"

# the same pseudo-random keys for every configuration
for n in $N1 $N2; do
	awk -v n="$n" 'BEGIN { srand(42); for (i = 0; i < n; i++)
		printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d\n", 1 + int(rand() * 1000000) }' \
		>"$OUT/q$n.sql"
done

for n in $N1 $N2; do
	for ((i = 0; i < n / 100; i++)); do echo 'SELECT lookup_loop()'; done >"$OUT/nested$n.sql"
done

instructions() {	# config n [workload] -> total Ir
	local cfg=$1 n=$2 w=${3:-q} f="$OUT/cg.$1.$2.${3:-q}" data=$SDP_DATA
	if [ "$w" = temp ]; then
		# DDL leaves dead catalog rows behind: each run on a fresh copy of
		# an empty cluster
		[ -d "$OUT/ddl_data" ] || as_pg initdb -D "$OUT/ddl_data" >/dev/null
		rm -rf "$OUT/data_copy"
		cp -a "$OUT/ddl_data" "$OUT/data_copy"
		data=$OUT/data_copy
	fi
	# shellcheck disable=SC2086
	as_pg valgrind --tool=callgrind --callgrind-out-file="$f" \
		postgres --single -D "$data" -c port="$SDP_PORT" ${CONF[$cfg]} postgres \
		<"$OUT/$w$n.sql" >/dev/null 2>"$f.err"
	sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -1
}

# --- 3. utility statements and planning ------------------------------------
U_N1=${U_N1:-500}
U_N2=${U_N2:-1500}
for n in $U_N1 $U_N2; do
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) print "SET work_mem = '"'"'4MB'"'"'" }' >"$OUT/set$n.sql"
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
		print "CREATE TEMP TABLE calf_tmp (id int, mother int)"; print "DROP TABLE calf_tmp" } }' >"$OUT/temp$n.sql"
	awk -v n="$n" 'BEGIN { srand(42); for (i = 0; i < n; i++)
		printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d\n", 1 + int(rand() * 1000000) }' \
		>"$OUT/sel$n.sql"
done
PGSS="-c shared_preload_libraries=pg_stat_statements"
SDP="-c shared_preload_libraries=smart_dairy_perf"
CONF[u_pgss]="$PGSS"
CONF[u_sdp]="$SDP"
CONF[u_pgss_util_off]="$PGSS -c pg_stat_statements.track_utility=off"
CONF[u_sdp_util_off]="$SDP -c smart_dairy_perf.track_utility=off"
CONF[u_pgss_planning]="$PGSS -c pg_stat_statements.track_planning=on"
CONF[u_sdp_planning]="$SDP -c smart_dairy_perf.track_planning=on"
U_ORDER=(none u_pgss u_sdp u_pgss_util_off u_sdp_util_off u_pgss_planning u_sdp_planning)

log "callgrind: $U_N1 and $U_N2 statements (SELECT, SET, CREATE TEMP TABLE + DROP) per configuration"
declare -A UPER
U_WORKLOADS=(${U_WORKLOADS:-sel set temp})
for w in "${U_WORKLOADS[@]}"; do
	for cfg in "${U_ORDER[@]}"; do
		a=$(instructions "$cfg" "$U_N1" "$w")
		b=$(instructions "$cfg" "$U_N2" "$w")
		UPER[$cfg.$w]=$(( (b - a) / (U_N2 - U_N1) ))
	done
done
printf '\n%-18s %26s %26s %34s\n' config 'point SELECT (added)' 'SET (added)' 'CREATE TEMP + DROP pair (added)'
for cfg in "${U_ORDER[@]}"; do
	printf '%-18s' "$cfg"
	for w in "${U_WORKLOADS[@]}"; do
		printf ' %16d (%+7d)' "${UPER[$cfg.$w]}" $(( UPER[$cfg.$w] - UPER[none.$w] ))
	done
	printf '\n'
done
for pair in "u_pgss u_sdp defaults" "u_pgss_util_off u_sdp_util_off track_utility=off" \
	"u_pgss_planning u_sdp_planning track_planning=on"; do
	set -- $pair
	for w in "${U_WORKLOADS[@]}"; do
		printf '%-22s %-5s smart_dairy_perf adds %7d, pg_stat_statements %7d\n' "$3" "$w" \
			$(( UPER[$2.$w] - UPER[none.$w] )) $(( UPER[$1.$w] - UPER[none.$w] ))
	done
done
if [ "${ONLY:-}" = utility ]; then
	rm -rf "$SDP_TMP"
	exit 0
fi

log "callgrind: $N1 and $N2 point SELECTs per configuration"
declare -A PERQ
for cfg in "${ORDER[@]}"; do
	a=$(instructions "$cfg" "$N1")
	b=$(instructions "$cfg" "$N2")
	PERQ[$cfg]=$(( (b - a) / (N2 - N1) ))
done

printf '\n%-14s %14s %14s %9s\n' config instr/query added added%
for cfg in "${ORDER[@]}"; do
	added=$(( PERQ[$cfg] - PERQ[none] ))
	printf '%-14s %14d %14d %8.2f%%\n' "$cfg" "${PERQ[$cfg]}" "$added" \
		"$(echo "100 * $added / ${PERQ[none]}" | bc -l)"
done
printf 'smart_dairy_perf (defaults) adds %.2fx what pg_stat_statements adds\n' \
	"$(echo "(${PERQ[sdp]} - ${PERQ[none]}) / (${PERQ[pgss]} - ${PERQ[none]})" | bc -l)"
printf 'N+1 detection: %d instructions per query, %.1f%% of what pg_stat_statements adds\n' \
	$(( PERQ[sdp] - PERQ[sdp_no_nplus1] )) \
	"$(echo "100 * (${PERQ[sdp]} - ${PERQ[sdp_no_nplus1]}) / (${PERQ[pgss]} - ${PERQ[none]})" | bc -l)"
[ -n "${PERQ[sdp_predicates_all]:-}" ] &&
	printf 'predicate sampling: %d instructions per query at the default rate 0.01, %d for a sampled statement\n' \
		$(( PERQ[sdp] - PERQ[sdp_no_predicates] )) $(( PERQ[sdp_predicates_all] - PERQ[sdp_no_predicates] ))
printf 'beyond the query id: pg_stat_statements %d, smart_dairy_perf %d instructions per query\n' \
	$(( PERQ[pgss] - PERQ[queryid] )) $(( PERQ[sdp] - PERQ[queryid] ))
[ -n "${PERQ[sdp_capture_analyze]:-}" ] &&
	printf 'structured (JSON) plan of a captured slow execution: %d instructions more per capture\n' \
		$(( PERQ[sdp_capture_analyze] - PERQ[sdp_capture_analyze_nojson] ))

log "callgrind: a PL/pgSQL function looping 100 point SELECTs, $((N1 / 100)) and $((N2 / 100)) calls"
declare -A PERN
for cfg in "${NESTED[@]}"; do
	a=$(instructions "$cfg" "$N1" nested)
	b=$(instructions "$cfg" "$N2" nested)
	PERN[$cfg]=$(( (b - a) / (N2 - N1) ))
done
printf '\n%-18s %14s %14s\n' config instr/inner added
for cfg in "${NESTED[@]}"; do
	printf '%-18s %14d %14d\n' "$cfg" "${PERN[$cfg]}" $(( PERN[$cfg] - PERN[none] ))
done
printf 'N+1 detection on a nested statement: %d instructions with track = top, %d with track = all\n' \
	$(( PERN[sdp] - PERN[sdp_no_nplus1] )) $(( PERN[sdp_all] - PERN[sdp_all_no_nplus1] ))

[ "$ROUNDS" -gt 0 ] || { rm -rf "$SDP_TMP"; exit 0; }
log "pgbench -S -M prepared -c $CLIENTS, $ROUNDS rounds x ${SECONDS_PER_RUN}s per configuration, interleaved"
declare -A TPS
for ((r = 1; r <= ROUNDS; r++)); do
	for cfg in none pgss sdp; do
		# shellcheck disable=SC2086
		as_pg pg_ctl -D "$SDP_DATA" -l "$SDP_TMP/server.log" -w -o "${CONF[$cfg]}" start >/dev/null
		t=$(as_pg pgbench -n -S -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" postgres 2>/dev/null |
			sed -n 's/^tps = \([0-9.]*\).*/\1/p')
		TPS[$cfg]="${TPS[$cfg]:-} $t"
		as_pg pg_ctl -D "$SDP_DATA" -m fast -w stop >/dev/null
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf '\n%-14s %12s %10s   rounds\n' config median_tps vs_none
base=$(echo "${TPS[none]}" | median)
for cfg in none pgss sdp; do
	m=$(echo "${TPS[$cfg]}" | median)
	printf '%-14s %12.1f %9.2f%%  %s\n' "$cfg" "$m" "$(echo "100 * $m / $base" | bc -l)" "${TPS[$cfg]}"
done
rm -rf "$SDP_TMP"
