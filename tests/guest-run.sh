#!/usr/bin/env bash
# Runs inside the VM: every suite given (default: all), KTAP on stdout and
# in $OUT/results.ktap, the kernel log in $OUT/dmesg.log.
#
#   tests/guest-run.sh OUTDIR [SUITE.sh...]
#
# RSFS_WRITEBACK_MODES (default "folio iomap") is passed on to the rsfs
# suites, which run every test once per mode.
set -u
OUT=$1; shift
TOP=$(cd "$(dirname "$0")/.." && pwd)
export RSFS_TOP=$TOP KTAP_STATE=$OUT/ktap.state KTAP_LOGDIR=$OUT
suites=("$@")
. "$TOP/tests/lib/ktap.sh"   # for KTAP_KLOG_BAD
if [ ${#suites[@]} -eq 0 ]; then
    # rsnull first (rsfs runs on it), then rsfs: mount, names, data, space,
    # then any other rsfs suite.
    suites=("$TOP"/tests/rsnull/*.sh)
    for s in mount namespace data space faults; do suites+=("$TOP/tests/rsfs/$s.sh"); done
    for s in "$TOP"/tests/rsfs/*.sh; do
        case " ${suites[*]} " in *" $s "*) ;; *) suites+=("$s") ;; esac
    done
fi

# The suites exec the tools hundreds of times: run them from the guest's
# memory (/tmp), not from the host's file system through the VM's shared
# mount, which may be 9p without a cache (every exec rereads the binary).
if [ -z "${RSFS_BIN:-}" ] && mkdir -p /tmp/rsfs-bin &&
    cp "$TOP"/tools/target/release/{mkfs.rsfs,fsck.rsfs,rsfs-testutil,rsfs-fuzz} /tmp/rsfs-bin/; then
    export RSFS_BIN=/tmp/rsfs-bin
fi

# Keep kernel messages off the console; the harness reads them with dmesg.
dmesg -n 1 2>/dev/null || true
echo 0 >"$KTAP_STATE"
{
    echo "KTAP version 1"
    echo "# kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB"
    # Anything the boot itself logged counts too.
    if dmesg | grep -Eq "$KTAP_KLOG_BAD"; then
        echo "not ok 0 boot kernel log is clean"
    fi
    dmesg -c >"$OUT/dmesg.log"
    for suite in "${suites[@]}"; do
        echo "# suite $(basename "$(dirname "$suite")")/$(basename "$suite") (started $(date +%T))"
        bash "$suite"
    done
    echo "1..$(cat "$KTAP_STATE")"
} 2>&1 | tee "$OUT/results.ktap"
echo done >"$OUT/finished"
