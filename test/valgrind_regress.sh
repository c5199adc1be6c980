#!/usr/bin/env bash
# Run the pg_regress suite against a server running under valgrind memcheck
# and report every error whose stack passes through smart_dairy_perf.so.
# (Debian's server is not built with USE_VALGRIND, so palloc'd memory is not
# tracked chunk by chunk; reads of uninitialised or freed malloc/shared memory
# in our code still are.)  After the suite, the maintenance launcher and a
# worker run for half a minute on what the tests left.  Slow: a few minutes.
source "$(dirname "$0")/lib.sh"
cd "$SDP_ROOT"
sdp_install_deps
sdp_build_install
SDP_TMP=$(mktemp -d /tmp/sdp_vg.XXXXXX); chmod 755 "$SDP_TMP"; chown postgres: "$SDP_TMP"
SDP_DATA=$SDP_TMP/data; SDP_PORT=$(sdp_free_port)
as_pg initdb -D "$SDP_DATA" -U postgres --auth=trust --no-sync >/dev/null
cat >>"$SDP_DATA/postgresql.conf" <<CONF
port = $SDP_PORT
listen_addresses = ''
unix_socket_directories = '$SDP_TMP'
shared_preload_libraries = 'smart_dairy_perf'
max_connections = 10
CONF
as_pg bash -c "valgrind --quiet --trace-children=yes --track-origins=yes \
	--error-limit=no --num-callers=30 --log-file=$SDP_TMP/vg.%p.log \
	postgres -D $SDP_DATA >$SDP_TMP/server.log 2>&1 &"
export PGHOST=$SDP_TMP PGPORT=$SDP_PORT PGUSER=postgres
for i in $(seq 1 120); do as_pg pg_isready -q && break; sleep 1; done
mkdir -p "$SDP_TMP/out" && chown postgres: "$SDP_TMP/out"
PGXS_SRC=$(dirname "$(dirname "$(pg_config --pgxs)")")
as_pg "$PGXS_SRC/test/regress/pg_regress" --inputdir=. --outputdir="$SDP_TMP/out" \
	--load-extension=smart_dairy_perf $(sed -n 's/^REGRESS *= *//p' Makefile) || true
# then the maintenance launcher and worker on what the tests left behind
# (registered views, managed partitions), with a reload in between
as_pg psql -X -q -d regression -c "ALTER SYSTEM SET smart_dairy_perf.maintenance_databases = 'regression'" \
	-c "ALTER SYSTEM SET smart_dairy_perf.maintenance_interval = '2s'" \
	-c "UPDATE sdp.matview_config SET last_refresh = NULL" -c "SELECT pg_reload_conf()" >/dev/null
sleep 20
as_pg psql -X -q -d regression -c "ALTER SYSTEM SET smart_dairy_perf.maintenance_interval = '1s'" \
	-c "SELECT pg_reload_conf()" >/dev/null
sleep 10
runs=$(as_pg psql -X -At -d regression -c "SELECT count(*) FROM sdp.maintenance_log
	WHERE action = 'refresh materialized views' AND started > now() - interval '1 minute'")
echo "maintenance runs by the worker under valgrind: $runs"
[ "$runs" -gt 0 ] || { echo "valgrind: the maintenance worker did not run"; exit 1; }
as_pg pg_ctl -D "$SDP_DATA" -m fast -w -t 120 stop >/dev/null || true
sleep 2
errors=$(cat "$SDP_TMP"/vg.*.log | awk '/^==[0-9]+== [A-Z]/ { if (blk ~ /smart_dairy_perf/) print blk; blk = $0 "\n"; next } { blk = blk $0 "\n" } END { if (blk ~ /smart_dairy_perf/) print blk }')
if [ -n "$errors" ]; then
	echo "$errors"
	echo "valgrind: errors in smart_dairy_perf (logs in $SDP_TMP)"
	exit 1
fi
echo "valgrind: no errors through smart_dairy_perf.so ($(ls "$SDP_TMP"/vg.*.log | wc -l) processes checked)"
rm -rf "$SDP_TMP"
