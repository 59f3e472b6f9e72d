#!/usr/bin/env bash
# Runs inside the VM for `make bench-blk` (scripts/bench-blk.sh boots it):
# loads rsnull and then each peer driver, one at a time, runs the same fio
# workloads on each and unloads it. It only measures: the raw fio JSON goes
# to OUTDIR/fio/, listed in OUTDIR/runs.tsv (device, workload, file), and the
# host does the parsing, so this side needs nothing beyond fio. A peer that
# fails to load or a job that fails is noted in OUTDIR/notes.txt and skipped.
#
#   scripts/bench-blk-guest.sh OUTDIR [SECONDS_PER_JOB]
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$RSFS_TOP/scripts/bench-lib.sh"
# Only for KTAP_KLOG_BAD: the kernel log lines the test suites count as bugs.
. "$RSFS_TOP/tests/lib/ktap.sh"

[ $# -ge 1 ] || die "usage: $0 OUTDIR [SECONDS_PER_JOB]"
OUT=$1 RUNTIME=${2:-5}
# Every job works in the first SIZE of the device, and memory-backed devices
# get that region written first, so random reads hit stored data rather than
# the drivers' unwritten-sector shortcuts.
SIZE=256M

note() { bench_note "$@"; }

# fio_job NAME DEV WORKLOAD FIO-ARGS...: one timed job, JSON kept and listed.
fio_job() {
    local name=$1 dev=$2 wl=$3; shift 3
    local json=fio/$name-$wl.json
    log "$name: $wl"
    if fio --name="$wl" --filename="$dev" --ioengine=libaio --direct=1 \
           --size=$SIZE --time_based --runtime="$RUNTIME" --group_reporting \
           --eta=never --output-format=json --output="$OUT/$json" "$@" \
           >>"$OUT/fio.log" 2>&1; then
        printf '%s\t%s\t%s\n' "$name" "$wl" "$json" >>"$OUT/runs.tsv"
    else
        note "$name: fio job $wl failed (see fio.log)"
    fi
}

workloads() {
    local name=$1 dev=$2 j
    for j in 1 2; do
        fio_job "$name" "$dev" randread-4k-qd32-j$j --rw=randread --bs=4k \
            --iodepth=32 --numjobs=$j --norandommap --randrepeat=0
    done
    for j in 1 2; do
        fio_job "$name" "$dev" randwrite-4k-qd32-j$j --rw=randwrite --bs=4k \
            --iodepth=32 --numjobs=$j --norandommap --randrepeat=0
    done
    fio_job "$name" "$dev" seqread-1m --rw=read --bs=1M --iodepth=8 --numjobs=1
    fio_job "$name" "$dev" seqwrite-1m --rw=write --bs=1M --iodepth=8 --numjobs=1
}

# bench_device NAME MODULE DEV memory|nomemory LOAD-COMMAND...
bench_device() {
    local name=$1 mod=$2 dev=$3 backing=$4; shift 4
    local err sched klog
    # modprobe of a module that is still loaded "succeeds" and ignores the
    # parameters, so a leftover would silently be measured under a new name.
    if grep -q "^$mod " /proc/modules; then
        note "$name: module $mod is still loaded from before; skipped"
        return 0
    fi
    log "$name: $*"
    if ! err=$("$@" 2>&1); then
        note "$name: could not load ('$*': ${err:-no message}); skipped"
        return 0
    fi
    udevadm settle 2>/dev/null || true
    if [ ! -b "$dev" ]; then
        note "$name: '$*' created no $dev; skipped"
        rmmod "$mod" 2>/dev/null || true
        return 0
    fi
    # Same I/O path for all: single-queue devices (rnull) default to
    # mq-deadline, the multi-queue ones to none.
    sched=/sys/block/${dev#/dev/}/queue/scheduler
    if [ -w "$sched" ]; then
        echo none 2>/dev/null >"$sched" || note "$name: could not set scheduler none"
    fi

    if [ "$backing" = memory ]; then
        log "$name: prefilling $SIZE"
        fio --name=prefill --filename="$dev" --ioengine=libaio --direct=1 \
            --rw=write --bs=1M --iodepth=8 --size=$SIZE --eta=never \
            >>"$OUT/fio.log" 2>&1 || note "$name: prefill failed (see fio.log)"
    fi
    workloads "$name" "$dev"

    rmmod "$mod" || note "$name: rmmod $mod failed"
    klog=$(dmesg -c 2>/dev/null || true)
    printf '# %s\n%s\n' "$name" "$klog" >>"$OUT/dmesg.log"
    if printf '%s\n' "$klog" | grep -Eq "$KTAP_KLOG_BAD"; then
        note "$name: the kernel logged errors during its run (see dmesg.log)"
    fi
}

bench_guest_start "any driver was loaded" "${RUNTIME}s per job"

# The same geometry for every driver that takes one: 1 GiB, 512-byte
# blocks, 2 hardware queues of depth 64, completion inline in queue_rq.
geometry=(bs=512 submit_queues=2 hw_queue_depth=64 irqmode=0)
bench_device rsnull rsnull /dev/rsnull0 memory \
    insmod "$RSFS_TOP/rsnull.ko" nr_devices=1 size_mb=1024 "${geometry[@]}" memory_backed=1
bench_device null_blk null_blk /dev/nullb0 memory \
    modprobe null_blk nr_devices=1 gb=1 "${geometry[@]}" memory_backed=1
bench_device null_blk-nomem null_blk /dev/nullb0 nomemory \
    modprobe null_blk nr_devices=1 gb=1 "${geometry[@]}" memory_backed=0
# Not configurable: 8 GiB, 4 KiB blocks, one queue of depth 256, no memory.
bench_device rnull rnull_mod /dev/rnullb0 nomemory modprobe rnull_mod
bench_device brd brd /dev/ram0 memory modprobe brd rd_nr=1 rd_size=1048576

echo done >"$OUT/finished"
