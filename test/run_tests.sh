#!/usr/bin/env bash
# The project's test command (README, second command; .ci/run calls it).
# Installs what is missing, builds with warnings as errors, starts a
# throwaway cluster with the extension preloaded, runs the pg_regress
# suite against it, stops it, then runs the TAP tests (which start their
# own clusters).  Exits non-zero on any failure.
#
#   test/run_tests.sh            everything
#   test/run_tests.sh regress    pg_regress only
#   test/run_tests.sh tap [t/..] TAP only (optionally some files)

source "$(dirname "$0")/lib.sh"
cd "$SDP_ROOT"

what=${1:-all}
shift || true

sdp_install_deps
sdp_build_install

PGXS_SRC=$(dirname "$(dirname "$(pg_config --pgxs)")")
PG_REGRESS=$PGXS_SRC/test/regress/pg_regress
REGRESS_TESTS=$(sed -n 's/^REGRESS *= *//p' Makefile)
failed=0
trap 'sdp_stop_cluster' EXIT

if [ "$what" = all ] || [ "$what" = regress ]; then
	sdp_start_cluster regress
	outdir=$SDP_TMP/regress
	mkdir -p "$outdir" && chown postgres: "$outdir"
	log "pg_regress: $REGRESS_TESTS"
	if ! as_pg "$PG_REGRESS" --inputdir="$SDP_ROOT" --outputdir="$outdir" \
		--load-extension=smart_dairy_perf $REGRESS_TESTS; then
		failed=1
		cat "$outdir/regression.diffs" || true
	fi
	if grep -E "PANIC|terminated by signal" "$SDP_TMP/server.log"; then
		log "the server crashed during pg_regress"
		failed=1
	fi
	sdp_stop_cluster
	SDP_DATA=
fi

if [ "$what" = all ] || [ "$what" = tap ]; then
	tapdir=$(mktemp -d /tmp/sdp_tap.XXXXXX)
	chown postgres: "$tapdir"
	tests=("$@")
	[ ${#tests[@]} -gt 0 ] || tests=(test/t/*.pl)
	log "TAP: ${tests[*]}"
	if ! as_pg env TESTDIR="$tapdir" PG_REGRESS="$PG_REGRESS" PATH="$PATH" \
		prove -I "$PGXS_SRC/test/perl" -I "$SDP_ROOT/test/t" "${tests[@]}"; then
		failed=1
		find "$tapdir" -name '*.log' -newer "$tapdir" -path '*log*' \
			-exec sh -c 'echo "--- $1"; tail -n 40 "$1"' _ {} \; 2>/dev/null | tail -n 200
	fi
	rm -rf "$tapdir"
fi

if [ $failed -ne 0 ]; then
	log "FAILED"
	exit 1
fi
log "all tests passed"
