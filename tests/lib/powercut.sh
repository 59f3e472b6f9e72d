# shellcheck shell=bash
# Power cuts against journaling filesystems known to survive them: ext4
# and xfs on an rsnull with a volatile write cache, under a workload that
# fsyncs each file, lose power at a random write again and again. After
# each cut the filesystem must mount (replaying its log), check clean, and
# hold every file whose fsync returned before the cut. If a peer fails,
# rsnull's emulation is wrong, not the peer.
#
# Used by tests/rsnull/powercut-ext4.sh and powercut-xfs.sh (one suite per
# filesystem, so that the two VMs of a run share the work).
#
#   RSNULL_POWERCUTS=N   cuts per filesystem (default 10; tests/rsfs/crash.sh cuts ext4 too)

MNT=/tmp/rsnull-cut
TU=${RSFS_BIN:-$RSFS_TOP/tools/target/release}/rsfs-testutil
CUTS=${RSNULL_POWERCUTS:-10}

fs_mkfs() {
    case $1 in
    ext4) mkfs.ext4 -q -F "$2" ;;
    xfs) mkfs.xfs -q -f "$2" ;;
    esac
}

fs_check() {
    case $1 in
    ext4) e2fsck -fn "$2" ;;
    xfs) xfs_repair -n "$2" ;;
    esac
}

# power_cuts FS: CUTS rounds of mount, verify, workload cut by a random
# crash point, power-on, log replay, fsck. Each round verifies the files
# the round before fsynced; the end verifies every one (files are never
# rewritten, so damage from any cut is still there to find).
power_cuts() {
    local fs=$1 d cut out synced total=0
    [ "$fs" = xfs ] && modprobe xfs
    rsnull_cfs_clean
    # xfs wants 300 MiB; only what is written takes memory.
    rsnull_cfs_new pc size=320 blocksize=4096 cache_size=4 fua=1 random_seed=$((RANDOM + 1))
    d=$RSNULL_CFS/pc
    fs_mkfs "$fs" "$RSNULL_DEV"
    mkdir -p $MNT
    rm -f /tmp/manifest.$fs.*
    : >/tmp/manifest.$fs.0
    for cut in $(seq 1 "$CUTS"); do
        mount -t "$fs" "$RSNULL_DEV" $MNT || fail "cut $cut: mount after power-on failed"
        "$TU" crash-verify $MNT /tmp/manifest.$fs.$((cut - 1)) >/dev/null ||
            fail "cut $((cut - 1)): fsynced data lost"
        # The cut comes within the next 1..300 writes and flushes.
        echo 300 >"$d/crash_random"
        echo "cut $cut after $(<"$d/crash_after_writes") more writes"
        out=$("$TU" crash-workload $MNT /tmp/manifest.$fs.$cut "f$cut" 300 16K "$cut")
        echo "  $out"
        # A workload that finished before the crash point: cut now.
        [ "$(<"$d/power")" = 0 ] || echo 0 >"$d/power"
        synced=${out#synced=}; synced=${synced%% *}
        total=$((total + synced))
        umount $MNT 2>/dev/null || umount -l $MNT || fail "cut $cut: cannot unmount after the cut"
        rsnull_cfs_power pc 1
        # Mount once to replay the log, then check it unmounted.
        mount -t "$fs" "$RSNULL_DEV" $MNT || fail "cut $cut: log replay mount failed"
        umount $MNT
        fs_check "$fs" "$RSNULL_DEV" >/tmp/fsck.out 2>&1 || { tail -20 /tmp/fsck.out; fail "cut $cut: $fs check failed"; }
    done
    cat /tmp/manifest.$fs.* >/tmp/manifest.$fs.all
    mount -t "$fs" "$RSNULL_DEV" $MNT
    "$TU" crash-verify $MNT /tmp/manifest.$fs.all
    umount $MNT
    echo "$CUTS cuts, $total files fsynced and kept"
    [ "$total" -gt 0 ] || fail "no file was ever fsynced before a cut"
    rsnull_cfs_clean
}

