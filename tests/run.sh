#!/usr/bin/env bash
# Host-side test runner: runs the userspace unit tests (cargo test in
# tools/), builds the modules and the tools, boots the debug kernel in a VM,
# runs the suites there (rsnull, then rsfs) and reports. Ends with
# "N passed, N failed".
#
#   tests/run.sh [SUITE.sh...]     default: cargo tests and every suite
#   RSFS_TEST_VMS=1                one VM for the default run (default 2)
#   RSFS_WRITEBACK_MODES="iomap"   rsfs suites in these writeback modes only
#                                  (default "folio iomap")
#   RSFS_EVERY_MODE=1              also the mode-independent rsfs suites
#                                  (mount, namespace) in every mode
#   RSFS_IMAGES=N                  crafted images in tests/rsfs/images.sh
#                                  (default 200; RSFS_IMAGES_SEED=S: first seed)
#   RSFS_SCALE_EXTENTS=N           tests/rsfs/scale.sh: a file of N extents
#                                  (a long mode; skipped when unset)
#   RSFS_CRASH_CUTS=N              tests/rsfs/crash.sh: random power cuts over
#                                  its four workloads (default 100; 1000+ for
#                                  a long run); RSFS_CRASH_SEED=S fixes the
#                                  seed, RSFS_CRASH_ONLY=W[:N],... reruns one
#                                  (each result line prints the command);
#                                  RSFS_CRASH_EXT4_CUTS, RSFS_CRASH_SEQ_POINTS
#                                  and RSFS_CRASH_REPLAY_POINTS (or "all"),
#                                  RSFS_CRASH_EXT4_SEQ=1,
#                                  RSFS_CRASH_SPAN: see the suite
#   RSFS_TEST_TIMEOUT=SEC          a VM's time limit (default 4500)
#   RSFS_TEST_TRACE=1              each test's log traces its commands with
#                                  timestamps (where does the time go?)
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

# Which suites run in which VM. Suites are mostly one shell at a time and a
# TCG guest runs on about one host core, so the default run splits the
# suites over two VMs that run side by side (RSFS_TEST_VMS=1: one VM).
groups=()
split_images=""
if [ $# -gt 0 ]; then
    g=""
    for s in "$@"; do g+="$(realpath "$s") "; done
    groups=("$g")
elif [ "${RSFS_TEST_VMS:-2}" -ge 2 ]; then
    # Each VM runs half of the crafted images (RSFS_IMAGES_SHARE).
    groups=("$(printf "$RSFS_TOP/tests/rsnull/%s.sh " basic data filesystems configfs powercut-ext4)$(printf "$RSFS_TOP/tests/rsfs/%s.sh " space images crash)"
            "$RSFS_TOP/tests/rsnull/powercut-xfs.sh $(printf "$RSFS_TOP/tests/rsfs/%s.sh " mount namespace data faults images)")
    split_images=1
else
    groups=("")    # guest-run.sh's default: every suite
fi

# run_vm INDEX DIR SUITES...: VM number INDEX running the suites; results
# in DIR.
run_vm() {
    local index=$1 dir=$2 share=""; shift 2
    [ -z "$split_images" ] || share="$index/${#groups[@]}"
    mkdir -p "$dir"
    # A whole run's VMs took 26-30 minutes on an idle 2-core machine and
    # about twice that on one with 20% steal time. The limit leaves room
    # for that, and still ends a CI run (90 minutes; the set-up is about a
    # minute with the kernel cached, 11-20 cold on a new, faster machine)
    # if a VM hangs.
    scripts/vm.sh --kdir "$KDIR" --rwdir "$dir" --timeout "${RSFS_TEST_TIMEOUT:-4500}" -- \
        env RSFS_WRITEBACK_MODES="${RSFS_WRITEBACK_MODES:-folio iomap}" RSFS_TEST_TRACE="${RSFS_TEST_TRACE:-}" \
        RSFS_EVERY_MODE="${RSFS_EVERY_MODE:-}" RSNULL_POWERCUTS="${RSNULL_POWERCUTS:-}" \
        RSFS_IMAGES="${RSFS_IMAGES:-}" RSFS_IMAGES_SEED="${RSFS_IMAGES_SEED:-}" RSFS_IMAGES_SHARE="$share" \
        RSFS_SCALE_EXTENTS="${RSFS_SCALE_EXTENTS:-}" \
        RSFS_CRASH_CUTS="${RSFS_CRASH_CUTS:-}" RSFS_CRASH_EXT4_CUTS="${RSFS_CRASH_EXT4_CUTS:-}" \
        RSFS_CRASH_SEQ_POINTS="${RSFS_CRASH_SEQ_POINTS:-}" RSFS_CRASH_EXT4_SEQ="${RSFS_CRASH_EXT4_SEQ:-}" \
        RSFS_CRASH_REPLAY_POINTS="${RSFS_CRASH_REPLAY_POINTS:-}" \
        RSFS_CRASH_SEED="${RSFS_CRASH_SEED:-}" RSFS_CRASH_ONLY="${RSFS_CRASH_ONLY:-}" RSFS_CRASH_SPAN="${RSFS_CRASH_SPAN:-}" \
        "$RSFS_TOP/tests/guest-run.sh" "$dir" "$@" >"$dir/console.log" 2>&1
    echo $? >"$dir/vm.rc"
}

log "booting ${#groups[@]} VM(s); results in $out"
for i in "${!groups[@]}"; do
    # shellcheck disable=SC2086 # a group is a space-separated list of paths
    run_vm "$i" "$out/vm$i" ${groups[$i]} &
    sleep 5    # stagger the boots
done
wait

for i in "${!groups[@]}"; do
    dir=$out/vm$i
    if [ -f "$dir/results.ktap" ]; then
        echo "# VM $i"
        cat "$dir/results.ktap"
        passed=$((passed + $(grep -c '^ok ' "$dir/results.ktap")))
        failed=$((failed + $(grep -c '^not ok ' "$dir/results.ktap")))
    fi
    if [ ! -f "$dir/finished" ]; then
        echo "# VM $i did not finish the run (exit $(cat "$dir/vm.rc" 2>/dev/null)); last console lines:"
        tail -40 "$dir/console.log" | sed 's/^/#   /'
        failed=$((failed + 1))
    fi
done
echo "# logs: $out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
