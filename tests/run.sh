#!/usr/bin/env bash
# Host-side test runner: builds the modules, boots the debug kernel in a VM,
# runs the suites there and reports. Ends with "N passed, N failed".
#
#   tests/run.sh [SUITE.sh...]     default: every suite
set -uo pipefail
. "$(dirname "$0")/../scripts/env.sh"
cd "$RSFS_TOP"

KDIR=${KDIR:-$(scripts/kernel.sh debug)} || die "no kernel"
log "building modules against $KDIR"
make -s KDIR="$KDIR" modules || { echo "0 passed, 1 failed"; exit 1; }

out=$(mktemp -d /tmp/rsfs-test.XXXXXX)
suites=()
for s in "$@"; do suites+=("$(realpath "$s")"); done

log "booting the VM; results in $out"
scripts/vm.sh --kdir "$KDIR" --rwdir "$out" --timeout "${RSFS_TEST_TIMEOUT:-3000}" -- \
    "$RSFS_TOP/tests/guest-run.sh" "$out" "${suites[@]}" >"$out/console.log" 2>&1
vm_rc=$?

passed=0 failed=0
if [ -f "$out/results.ktap" ]; then
    cat "$out/results.ktap"
    passed=$(grep -c '^ok ' "$out/results.ktap")
    failed=$(grep -c '^not ok ' "$out/results.ktap")
fi
if [ ! -f "$out/finished" ]; then
    echo "# the VM did not finish the run (exit $vm_rc); last console lines:"
    tail -40 "$out/console.log" | sed 's/^/#   /'
    failed=$((failed + 1))
fi
echo "# logs: $out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
