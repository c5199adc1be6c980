#!/usr/bin/env bash
# Shared helpers for the demo, the test runner and the benchmarks:
# install what is missing, build, and run throwaway clusters as the
# postgres user on a free port.  Source it; do not run it.

set -euo pipefail

SDP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
# SDP_PGBIN: a private copy of the server (parallel work on one machine)
PGBIN=${SDP_PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
export PATH="$PGBIN:$PATH"

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the project needs; installed only when missing.
sdp_install_deps() {
	local wanted=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR
		postgresql-contrib-$PG_MAJOR postgresql-$PG_MAJOR-cron
		libipc-run-perl make gcc valgrind python3 python3-prometheus-client chromium bc
		python3-django python3-psycopg2 ruby-activerecord ruby-pg "$@")
	local missing=()
	local pkg
	for pkg in "${wanted[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$pkg")
	done
	# postgresql-contrib-15 is a virtual package provided by postgresql-15
	missing=("${missing[@]/postgresql-contrib-$PG_MAJOR/}")
	local real=()
	for pkg in "${missing[@]}"; do [ -n "$pkg" ] && real+=("$pkg"); done
	if [ ${#real[@]} -gt 0 ]; then
		log "installing ${real[*]}"
		if [ "$(id -u)" -ne 0 ]; then
			echo "need root to apt-get install ${real[*]}" >&2
			return 1
		fi
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${real[@]}" >/dev/null
	fi
}

sdp_build_install() {
	log "building and installing smart_dairy_perf"
	make -C "$SDP_ROOT" -s clean >/dev/null
	# warnings are errors: the build must stay clean
	make -C "$SDP_ROOT" -s COPT="-Werror"
	make -C "$SDP_ROOT" -s install >/dev/null
}

# Run a command as the postgres user (the server refuses to run as root).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

sdp_free_port() {
	python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# sdp_start_cluster NAME [extra postgresql.conf lines...]
# Sets SDP_DATA, SDP_PORT, SDP_SOCK and exports PGHOST/PGPORT/PGUSER.
sdp_start_cluster() {
	local name=$1
	shift
	SDP_TMP=$(mktemp -d "/tmp/sdp_${name}.XXXXXX")
	chmod 755 "$SDP_TMP"
	chown postgres: "$SDP_TMP" 2>/dev/null || true
	SDP_DATA=$SDP_TMP/data
	SDP_SOCK=$SDP_TMP
	SDP_PORT=$(sdp_free_port)
	as_pg initdb -D "$SDP_DATA" -U postgres --auth=trust --no-sync \
		-E UTF8 --locale=C.UTF-8 >"$SDP_TMP/initdb.log" 2>&1
	cat >>"$SDP_DATA/postgresql.conf" <<CONF
port = $SDP_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SDP_SOCK'
shared_preload_libraries = 'smart_dairy_perf'
fsync = off
log_line_prefix = '%m [%p] %a '
CONF
	local line
	for line in "$@"; do echo "$line" >>"$SDP_DATA/postgresql.conf"; done
	as_pg pg_ctl -D "$SDP_DATA" -l "$SDP_TMP/server.log" -w -t 60 start >/dev/null
	export PGHOST=$SDP_SOCK PGPORT=$SDP_PORT PGUSER=postgres PGDATABASE=postgres
	log "cluster $name on port $SDP_PORT ($SDP_DATA)"
}

sdp_stop_cluster() {
	[ -n "${SDP_DATA:-}" ] || return 0
	as_pg pg_ctl -D "$SDP_DATA" -m fast -w stop >/dev/null 2>&1 || true
}

sdp_psql() {
	as_pg psql -X -v ON_ERROR_STOP=1 -q "$@"
}

# sdp_dairy_workload SECONDS: the main job's two application pools at once
# against database dairy (web_read: storefront lookups, my orders, login,
# the ORM order page, the farm dashboard; erp_write: checkout, the sales
# report, the restock function).  pgbench output goes to $SDP_TMP/web.log
# and $SDP_TMP/erp.log; a failing pool prints its log and fails.  The demo
# and test/bench/index_advisor.sh run this one mix.
sdp_dairy_workload() {
	local seconds=$1 web erp
	(
		cd "$SDP_ROOT/test/workload/pgbench"
		as_pg env PGAPPNAME=web_read pgbench -n -c 4 -j 2 -T "$seconds" \
			-f browse.sql@20 -f my_orders.sql@3 -f login.sql@2 -f order_page.sql@4 \
			-f farm_dashboard.sql@1 dairy >"$SDP_TMP/web.log" 2>&1 &
		web=$!
		as_pg env PGAPPNAME=erp_write pgbench -n -c 2 -j 1 -T "$seconds" \
			-f checkout.sql@20 -f sales_report.sql@1 -f restock.sql@2 dairy >"$SDP_TMP/erp.log" 2>&1 &
		erp=$!
		wait $web || { cat "$SDP_TMP/web.log"; exit 1; }
		wait $erp || { cat "$SDP_TMP/erp.log"; exit 1; }
	)
}

# the figure NAME (tps, latency average) of a pool's pgbench log
sdp_pgbench_figure() {
	sed -n "s/^$2 = \([0-9.]*\).*/\1/p" "$SDP_TMP/$1.log"
}
