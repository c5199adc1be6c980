#!/usr/bin/env bash
# Partition maintenance, smart_dairy_perf vs pg_partman 4 (Debian's
# postgresql-15-partman), in one run on one cluster: 200 parents with 36
# monthly partitions each (32 months back, the current one, 3 ahead) per tool.
# Timed, interleaved, medians of ROUNDS runs:
#   steady    maintenance with nothing to do
#   premake+1 each parent needs one new partition (premake raised 3 -> 4)
#   retention each parent detaches its partitions older than 24 months
#
#   test/bench/partition_maintenance.sh [ROUNDS] [PARENTS]

source "$(dirname "$0")/../lib.sh"
ROUNDS=${1:-3}
PARENTS=${2:-200}

sdp_install_deps postgresql-$PG_MAJOR-partman
sdp_build_install
sdp_start_cluster partbench "max_locks_per_transaction = 1024" "shared_buffers = 512MB"
trap 'sdp_stop_cluster; rm -rf "$SDP_TMP"' EXIT

sdp_psql -c 'CREATE EXTENSION smart_dairy_perf' \
	-c 'CREATE SCHEMA partman' -c 'CREATE EXTENSION pg_partman SCHEMA partman'

log "creating $PARENTS parents x 36 monthly partitions for each tool"
sdp_psql <<SQL
SET client_min_messages = warning;
DO \$\$
DECLARE
    start timestamptz := date_trunc('month', now()) - interval '32 months';
BEGIN
    FOR i IN 1..$PARENTS LOOP
        EXECUTE format('CREATE TABLE pm_t%s (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)', i);
        PERFORM partman.create_parent(p_parent_table => format('public.pm_t%s', i),
            p_control => 'created_at', p_type => 'native', p_interval => 'monthly',
            p_premake => 3, p_start_partition => start::text, p_jobmon => false);
        EXECUTE format('CREATE TABLE sd_t%s (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)', i);
        PERFORM sdp.manage_partitions(format('sd_t%s', i)::regclass, '1 month', 3, start_at => start);
    END LOOP;
END
\$\$;
SQL
sdp_psql -At -c "SELECT 'pg_partman partitions: ' || count(*) FROM pg_inherits WHERE inhparent::regclass::text LIKE 'pm_t%'" \
	-c "SELECT 'smart_dairy_perf partitions: ' || count(*) FROM pg_inherits WHERE inhparent::regclass::text LIKE 'sd_t%'"

PARTMAN_RUN="SELECT partman.run_maintenance(p_analyze => false, p_jobmon => false)"
SDP_RUN="SELECT count(*) FROM sdp.run_partition_maintenance()"

seconds() {	# sql -> elapsed seconds
	local t0 t1
	t0=$(date +%s.%N)
	sdp_psql -c "$1" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A T
for ((r = 1; r <= ROUNDS; r++)); do
	T[steady_pm]+=" $(seconds "$PARTMAN_RUN")"
	T[steady_sdp]+=" $(seconds "$SDP_RUN")"
done

# each round: one more month ahead for every parent
for ((r = 1; r <= ROUNDS; r++)); do
	sdp_psql -c "UPDATE partman.part_config SET premake = premake + 1" \
		-c "UPDATE sdp.partition_config SET premake = premake + 1"
	T[create_pm]+=" $(seconds "$PARTMAN_RUN")"
	T[create_sdp]+=" $(seconds "$SDP_RUN")"
done

# retention: detach what is older than 24 months (about 8 per parent), once
sdp_psql -c "UPDATE partman.part_config SET retention = '24 months', retention_keep_table = true" \
	-c "UPDATE sdp.partition_config SET retention = '24 months', retention_mode = 'detach'"
T[prune_pm]=$(seconds "$PARTMAN_RUN")
T[prune_sdp]=$(seconds "$SDP_RUN")
sdp_psql -At -c "SELECT 'detached by pg_partman: ' || count(*) FROM pg_class WHERE relname ~ '^pm_t[0-9]+_p' AND relkind = 'r' AND NOT relispartition" \
	-c "SELECT 'detached by smart_dairy_perf: ' || count(*) FROM pg_class WHERE relname ~ '^sd_t[0-9]+_p' AND relkind = 'r' AND NOT relispartition"
sdp_psql -At -c "SELECT 'smart_dairy_perf errors: ' || count(*) FROM sdp.maintenance_log WHERE status = 'error'"

printf '\n%-26s %12s %18s %8s\n' "maintenance of $PARENTS parents" pg_partman smart_dairy_perf speedup
for k in steady create prune; do
	pm=$(echo "${T[${k}_pm]}" | median)
	sd=$(echo "${T[${k}_sdp]}" | median)
	printf '%-26s %11.3fs %17.3fs %7.1fx\n' "$k" "$pm" "$sd" "$(echo "$pm / $sd" | bc -l)"
done
