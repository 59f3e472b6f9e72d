#!/usr/bin/env bash
# Runs inside the VM for `make bench-fs` (scripts/bench-fs.sh boots it):
# loads rsnull with one fresh memory-backed disk per filesystem (all with
# the same parameters), makes and mounts each filesystem on its own disk,
# then runs each fio workload on each filesystem in turn (workload by
# workload, so that the runs a RATIO compares are close in time), and at
# the end unmounts them and discards the disks. Like bench-blk-guest.sh it
# only measures: the raw fio JSON goes to OUTDIR/fio/, listed in
# OUTDIR/runs.tsv (filesystem, workload, file, or FAILED), and the host
# does the parsing.
#
# A filesystem may be buggy (rsfs is ours), so nothing here waits forever:
# every fio run and every mkfs, mount, umount, rm and sync has a time
# limit. A workload fails when fio fails or runs out of time, or when the
# kernel logs a BUG, WARNING, Oops, lockdep or hung-task report during it
# (KTAP_KLOG_BAD, as in the tests); the reason goes to OUTDIR/notes.txt and
# the kernel log to OUTDIR/dmesg.log. After a BUG or an Oops, or a command
# that cannot even be killed (stuck in the kernel), that filesystem leaves
# the run: its remaining workloads are reported failed without running and
# its disk is left alone, while the others go on, each on its own disk.
#
#   scripts/bench-fs-guest.sh OUTDIR [SECONDS_PER_TIMED_JOB] [SECONDS_PER_FIO_RUN]
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$RSFS_TOP/scripts/bench-lib.sh"
# Only for KTAP_KLOG_BAD: the kernel log lines the test suites count as bugs.
. "$RSFS_TOP/tests/lib/ktap.sh"

[ $# -ge 1 ] || die "usage: $0 OUTDIR [SECONDS_PER_TIMED_JOB] [SECONDS_PER_FIO_RUN]"
OUT=$1 RUNTIME=${2:-5} JOB_LIMIT=${3:-180}
# mkfs, mount, umount, rm -rf, syncfs, blkdiscard, fsck.
OP_LIMIT=120
RSFS_KO=$RSFS_TOP/rsfs.ko
RSNULL_KO=$RSFS_TOP/rsnull.ko
RSFS_BIN=$RSFS_TOP/tools/target/release
MNT_BASE=/tmp/bench-fs

FILESYSTEMS=(rsfs-folio rsfs-iomap ext4 xfs f2fs)
WORKLOADS=(seqwrite-256m randwrite-4k-64m seqwrite-4x64m seqread-256m
           dio-randwrite-4k-qd16 create-2000x4k)

# One disk per filesystem, so one that hangs with its disk busy does not
# take the others' with it: 1 GiB, 4 KiB blocks, 2 queues of depth 64,
# inline completion, memory-backed, no volatile write cache (as bench-blk,
# with filesystem-sized blocks).
RSNULL_PARAMS=(nr_devices=${#FILESYSTEMS[@]} size_mb=1024 bs=4096 submit_queues=2
               hw_queue_depth=64 irqmode=0 memory_backed=1)

note() { bench_note "$@"; }

# limited SECONDS CMD...: CMD's status, or 124 (137 if it took SIGKILL) if
# it ran out of time and was killed (timeout(1) signals its whole process
# group: fio's job processes too). A process stuck in the kernel cannot be killed, and
# timeout(1) would wait for it forever: after a grace period it is left
# behind, STUCK is set, and the status is 125.
STUCK=""
limited() {
    local limit=$1 pid ticks=0; shift
    timeout -k 10 "$limit" "$@" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$ticks" -ge $(( (limit + 40) * 5 )) ]; then
            STUCK="'$*' could not be killed after ${limit}s (stuck in the kernel)"
            ps -eo pid,stat,wchan:32,args | awk 'NR == 1 || $2 ~ /D/' >>"$OUT/stuck.txt" || true
            return 125
        fi
        sleep 0.2
        ticks=$((ticks + 1))
    done
    wait "$pid"
}

# klog_check FS WHAT: drains the kernel log into dmesg.log. Returns 1, with
# a note quoting the first bad line, if it has a report; sets BROKEN when
# that report means the filesystem cannot be trusted to go on (BUG, Oops).
BROKEN=""
klog_check() {
    local fs=$1 what=$2 klog bad
    klog=$(dmesg -c 2>/dev/null || true)
    printf '# %s: %s\n%s\n' "$fs" "$what" "$klog" >>"$OUT/dmesg.log"
    bad=$(printf '%s\n' "$klog" | grep -E -m1 "$KTAP_KLOG_BAD" || true)
    [ -n "$bad" ] || return 0
    note "$fs: $what: the kernel logged: $bad (see dmesg.log)"
    if printf '%s\n' "$klog" | grep -Eq '\bBUG\b|Oops|general protection fault|Kernel panic'; then
        BROKEN="the kernel reported a BUG or an Oops during $what"
    fi
    return 1
}

# op FS WHAT CMD...: a time-limited step around the measurements (output to
# fio.log); a note if it fails.
op() {
    local fs=$1 what=$2 rc=0; shift 2
    limited "$OP_LIMIT" "$@" >>"$OUT/fio.log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || note "$fs: $what failed (exit $rc: '$*')"
    return "$rc"
}

# fio_run DIR JSON FIO-ARGS...: one time-limited fio run in DIR, its JSON
# kept.
fio_run() {
    local dir=$1 json=$2; shift 2
    printf '# %(%T)T fio --directory=%s %s\n' -1 "$dir" "$*" >>"$OUT/fio.log"
    limited "$JOB_LIMIT" fio --directory="$dir" --ioengine=psync --fallocate=none \
        --group_reporting --eta=never --output-format=json --output="$OUT/$json" "$@" \
        >>"$OUT/fio.log" 2>&1
}

# prefill FILE MIB: an untimed file of MIB MiB, written and fsynced (dd
# starts in a fraction of fio's time: fio links 64 libraries, which TCG
# loads from the 9p root at every start).
prefill() {
    printf '# %(%T)T dd %s %s MiB\n' -1 "$1" "$2" >>"$OUT/fio.log"
    limited "$JOB_LIMIT" dd if=/dev/zero of="$1" bs=1M count="$2" conv=fsync status=none \
        >>"$OUT/fio.log" 2>&1
}

# The workloads. Each gets an empty directory DIR on a filesystem whose
# earlier work is written back; only the fio run is timed (and kept as
# JSON). Buffered writes have a fixed size and end with fsync, which fio
# times with the writes; fallocate is off everywhere (rsfs has none, and fio
# would otherwise preallocate on the others). `--name` names the files:
# DIR/NAME.JOB.FILE.
workload() { # FS DEV MOUNTPOINT WORKLOAD DIR JSON
    local fs=$1 dev=$2 mnt=$3 wl=$4 dir=$5 json=$6
    case $wl in
    seqwrite-256m) # one 256 MiB file, 1 MiB writes
        fio_run "$dir" "$json" --name=seqwrite --rw=write --bs=1M --size=256M --end_fsync=1 ;;
    randwrite-4k-64m) # each 4 KiB block of a new 64 MiB file once, in random order
        fio_run "$dir" "$json" --name=randwrite --rw=randwrite --bs=4k --size=64M --end_fsync=1 ;;
    seqwrite-4x64m) # four processes, each writing its own 64 MiB file
        fio_run "$dir" "$json" --name=seqwrite4 --rw=write --bs=1M --size=64M --numjobs=4 \
            --end_fsync=1 ;;
    seqread-256m) # a 256 MiB file, its cache dropped (remount), read in 1 MiB reads
        # The filesystem's caches are dropped by unmounting it, not with
        # /proc/sys/vm/drop_caches: that would drop the VM's root too, and
        # the next fio start alone would then take 20-30 s under TCG.
        prefill "$dir/seqread.0.0" 256 &&
            op "$fs" umount umount "$mnt" && mount_fs "$fs" "$dev" "$mnt" &&
            fio_run "$dir" "$json" --name=seqread --rw=read --bs=1M --size=256M ;;
    dio-randwrite-4k-qd16) # O_DIRECT 4 KiB overwrites in a written 64 MiB file, time-based
        prefill "$dir/dio.0.0" 64 &&
            fio_run "$dir" "$json" --name=dio --rw=randwrite --bs=4k --size=64M --direct=1 \
                --ioengine=libaio --iodepth=16 --time_based --runtime="$RUNTIME" \
                --norandommap --randrepeat=0 ;;
    create-2000x4k) # 2000 new 4 KiB files, created at open (timed), each fsynced at the end
        # (fio reopens the closed ones); at most 64 open at a time: fio would
        # otherwise open all 2000 at once, over the guest's limit of 1024.
        fio_run "$dir" "$json" --name=create --rw=write --bs=4k --nrfiles=2000 --filesize=4k \
            --create_on_open=1 --openfiles=64 --end_fsync=1 ;;
    *) die "unknown workload $wl" ;;
    esac
}

# mounted MNT: something is mounted on MNT (no process: they are slow here).
mounted() {
    local dev mnt rest
    while read -r dev mnt rest; do [ "$mnt" != "$1" ] || return 0; done </proc/mounts
    return 1
}

failed() { printf '%s\t%s\tFAILED\n' "$1" "$2" >>"$OUT/runs.tsv"; }

all_failed() { # FS WHY: every workload of FS failed (or could not run)
    local wl
    note "$1: $2; all its workloads reported failed"
    for wl in "${WORKLOADS[@]}"; do failed "$1" "$wl"; done
}

# mount_fs FS DEV MNT: mounts FS (default options; rsfs with its mode).
mount_fs() {
    local fs=$1 dev=$2 mnt=$3
    case $fs in
    rsfs-*)
        op "$fs" mount mount -t rsfs -o "writeback=${fs#rsfs-}" "$dev" "$mnt" || return 1
        # The mode the mount really uses (show_options).
        grep -q " $mnt rsfs .*writeback=${fs#rsfs-}" /proc/mounts ||
            { note "$fs: /proc/mounts does not say writeback=${fs#rsfs-}"; return 1; }
        ;;
    *) op "$fs" mount mount -t "$fs" "$dev" "$mnt" ;;
    esac
}

# mkfs_mount FS DEV MNT: a new filesystem on DEV, mounted on MNT, with an
# empty directory per workload.
mkfs_mount() {
    local fs=$1 dev=$2 mnt=$3
    mkdir -p "$mnt"
    case $fs in
    rsfs-*) op "$fs" mkfs "$RSFS_BIN/mkfs.rsfs" -q -f "$dev" ;;
    # Inode tables and journal zeroed now, not by a thread during the jobs.
    ext4) op "$fs" mkfs mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev" ;;
    xfs) op "$fs" mkfs mkfs.xfs -q -f "$dev" ;;
    f2fs) op "$fs" mkfs mkfs.f2fs -q -f "$dev" ;;
    esac &&
        mount_fs "$fs" "$dev" "$mnt" &&
        op "$fs" mkdir mkdir "${WORKLOADS[@]/#/$mnt/}" &&
        op "$fs" syncfs sync -f "$mnt"
}

# The state of each filesystem: its disk, its mount point, and why it is
# out of the run ("" while it is in).
declare -A DEV MNT OUTOF

# setup_fs FS: a fresh FS on its own disk, mounted; or out of the run.
setup_fs() {
    local fs=$1
    STUCK="" BROKEN=""
    if [ ! -b "${DEV[$fs]}" ]; then
        OUTOF[$fs]="rsnull created no ${DEV[$fs]}"
    else
        echo none 2>/dev/null >"/sys/block/${DEV[$fs]#/dev/}/queue/scheduler" ||
            note "$fs: could not set scheduler none on ${DEV[$fs]}"
        log "$fs: mkfs and mount on ${DEV[$fs]}"
        mkfs_mount "$fs" "${DEV[$fs]}" "${MNT[$fs]}" ||
            OUTOF[$fs]="mkfs or mount failed${STUCK:+ ($STUCK)}"
        klog_check "$fs" mkfs/mount || true
    fi
    [ -z "${OUTOF[$fs]}" ] || note "$fs: ${OUTOF[$fs]}; all its workloads reported failed"
}

# run_one FS WORKLOAD: one workload on FS, listed in runs.tsv (FAILED if
# it failed or FS is out of the run); FS leaves the run if it got stuck,
# the kernel reported a BUG or an Oops, or it is no longer mounted.
run_one() {
    local fs=$1 wl=$2 dev=${DEV[$1]} mnt=${MNT[$1]}
    local dir=${MNT[$1]}/$2 json=fio/$1-$2.json rc=0 why="" out=${OUTOF[$1]}
    if [ -z "$out" ] && ! mounted "$mnt"; then
        out="it is no longer mounted (a remount failed)" OUTOF[$fs]=$out
    fi
    if [ -n "$out" ]; then
        case $out in mkfs* | rsnull*) ;; *) note "$fs: $wl not run: $out" ;; esac
        failed "$fs" "$wl"
        return 0
    fi
    STUCK="" BROKEN=""
    log "$wl: $fs"
    workload "$fs" "$dev" "$mnt" "$wl" "$dir" "$json" || rc=$?
    case $rc in
    0) ;;
    124 | 137) why="ran out of time (${JOB_LIMIT}s) and was killed" ;;
    125) why=$STUCK ;;
    *) why="failed (exit $rc, see fio.log)" ;;
    esac
    [ -z "$why" ] || note "$fs: $wl: $why"
    klog_check "$fs" "$wl" || why=${why:-"kernel log report"}
    if [ -z "$why" ] && [ -s "$OUT/$json" ]; then
        printf '%s\t%s\t%s\n' "$fs" "$wl" "$json" >>"$OUT/runs.tsv"
    else
        failed "$fs" "$wl"
    fi
    OUTOF[$fs]=${STUCK:-$BROKEN}
    # Free the space for the next workload, and write the removal back
    # before it starts.
    if [ -z "${OUTOF[$fs]}" ] && mounted "$mnt"; then
        # shellcheck disable=SC2016 # sh's arguments
        op "$fs" "rm $wl" sh -c 'rm -rf "$1" && sync -f "$2"' rm "$dir" "$mnt" || true
    fi
}

# finish_fs FS: unmounted, checked (rsfs) and its disk discarded, which
# frees rsnull's memory; or, if FS got stuck or broken, left alone.
finish_fs() {
    local fs=$1 dev=${DEV[$1]} mnt=${MNT[$1]}
    STUCK=""
    if mounted "$mnt"; then
        if [ -n "${OUTOF[$fs]}" ]; then
            note "$fs: left mounted on $dev (${OUTOF[$fs]})"
            return 0
        fi
        op "$fs" umount umount "$mnt" || return 0
    fi
    [ -b "$dev" ] || return 0
    if [ "${fs%%-*}" = rsfs ] && ! op "$fs" "fsck.rsfs -n" "$RSFS_BIN/fsck.rsfs" -n "$dev"; then
        note "$fs: fsck.rsfs -n found problems after the run (see fio.log)"
    fi
    op "$fs" blkdiscard blkdiscard -f "$dev" || true
    klog_check "$fs" umount || true
}

bench_guest_start "any filesystem was mounted" \
    "timed jobs ${RUNTIME}s, fio runs limited to ${JOB_LIMIT}s"

log "rsnull: ${RSNULL_PARAMS[*]}"
if ! err=$(insmod "$RSNULL_KO" "${RSNULL_PARAMS[@]}" 2>&1); then
    for fs in "${FILESYSTEMS[@]}"; do all_failed "$fs" "insmod rsnull.ko failed: $err"; done
    echo done >"$OUT/finished"
    exit 0
fi
udevadm settle 2>/dev/null || true
# rsfs: loaded once, each mount picks its writeback mode (mount -o).
insmod "$RSFS_KO" 2>>"$OUT/fio.log" || note "insmod rsfs.ko failed"
modprobe -a xfs f2fs 2>>"$OUT/fio.log" || note "modprobe xfs f2fs failed"
klog_check modules load || true

# All filesystems are made and mounted first, then each workload runs on
# each of them in turn, so that the runs compared in a RATIO line are
# minutes apart at most: under TCG on a shared host the speed drifts.
i=0
for fs in "${FILESYSTEMS[@]}"; do
    DEV[$fs]=/dev/rsnull$i MNT[$fs]=$MNT_BASE/$fs OUTOF[$fs]=""
    i=$((i + 1))
    setup_fs "$fs"
done
for wl in "${WORKLOADS[@]}"; do
    for fs in "${FILESYSTEMS[@]}"; do run_one "$fs" "$wl"; done
    printf '# %(%T)T after %s: %s\n' -1 "$wl" "$(grep MemAvailable /proc/meminfo)" >>"$OUT/fio.log"
done
for fs in "${FILESYSTEMS[@]}"; do finish_fs "$fs"; done

echo done >"$OUT/finished"
