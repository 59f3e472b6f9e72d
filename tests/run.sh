#!/usr/bin/env bash
# Host-side test runner: runs the userspace unit tests (cargo test in
# tools/), builds the modules and the tools, boots the debug kernel in a VM,
# runs the suites there (rsnull, then rsfs) and reports. Ends with
# "N passed, N failed".
#
#   tests/run.sh [SUITE.sh...]     default: cargo tests and every suite
#   RSFS_WRITEBACK_MODES="iomap"   rsfs suites in these writeback modes only
#                                  (default "folio iomap")
set -uo pipefail
. "$(dirname "$0")/../scripts/env.sh"
cd "$RSFS_TOP"

KDIR=${KDIR:-$(scripts/kernel.sh debug)} || die "no kernel"
log "building modules against $KDIR"
make -s KDIR="$KDIR" modules || { echo "0 passed, 1 failed"; exit 1; }
# The rsfs suites run mkfs.rsfs, fsck.rsfs and rsfs-testutil from
# tools/target/release (the VM shares the host's file system).
log "building the tools: cargo build --release in tools/"
(cd tools && cargo build --release --quiet) || { echo "0 passed, 1 failed"; exit 1; }

out=$(mktemp -d /tmp/rsfs-test.XXXXXX)
passed=0 failed=0

# Host-side unit tests: everything that runs in userspace (tools/).
if [ $# -eq 0 ]; then
    log "host-side unit tests: cargo test in tools/"
    if (cd tools && cargo test --quiet 2>&1) >"$out/cargo-test.log"; then :; else
        grep -q "test result:" "$out/cargo-test.log" || failed=$((failed + 1))
    fi
    grep -E "^test .* FAILED|panicked|^error" "$out/cargo-test.log" | head -20 | sed 's/^/# /'
    read -r p f < <(awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
                         END { print p + 0, f + 0 }' "$out/cargo-test.log")
    echo "# cargo test: $p passed, $f failed"
    passed=$((passed + p)) failed=$((failed + f))
fi

suites=()
for s in "$@"; do suites+=("$(realpath "$s")"); done

log "booting the VM; results in $out"
scripts/vm.sh --kdir "$KDIR" --rwdir "$out" --timeout "${RSFS_TEST_TIMEOUT:-4200}" -- \
    env RSFS_WRITEBACK_MODES="${RSFS_WRITEBACK_MODES:-folio iomap}" \
    "$RSFS_TOP/tests/guest-run.sh" "$out" "${suites[@]}" >"$out/console.log" 2>&1
vm_rc=$?

if [ -f "$out/results.ktap" ]; then
    cat "$out/results.ktap"
    passed=$((passed + $(grep -c '^ok ' "$out/results.ktap")))
    failed=$((failed + $(grep -c '^not ok ' "$out/results.ktap")))
fi
if [ ! -f "$out/finished" ]; then
    echo "# the VM did not finish the run (exit $vm_rc); last console lines:"
    tail -40 "$out/console.log" | sed 's/^/#   /'
    failed=$((failed + 1))
fi
echo "# logs: $out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
