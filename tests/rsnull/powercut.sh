#!/usr/bin/env bash
# rsnull's power cuts against journaling filesystems that are known to
# survive them: ext4 and xfs on an rsnull with a volatile write cache, under
# a workload that fsyncs each file, lose power at a random write again and
# again. After each cut the filesystem must mount (replaying its log),
# check clean, and hold every file whose fsync returned before the cut. If
# a peer fails here, the emulation is wrong, not the peer.
#
#   RSNULL_POWERCUTS=N   cuts per filesystem (default 20)
. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/modules.sh"

MNT=/tmp/rsnull-cut
TU=${RSFS_BIN:-$RSFS_TOP/tools/target/release}/rsfs-testutil
CUTS=${RSNULL_POWERCUTS:-20}

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
# crash point, power-on, log replay, fsck.
power_cuts() {
    local fs=$1 d cut out synced=0 total=0
    [ "$fs" = xfs ] && modprobe xfs
    rsnull_cfs_clean
    # xfs wants 300 MiB; only what is written takes memory.
    rsnull_cfs_new pc size=320 blocksize=4096 cache_size=4 fua=1 random_seed=$((RANDOM + 1))
    d=$RSNULL_CFS/pc
    fs_mkfs "$fs" "$RSNULL_DEV"
    mkdir -p $MNT
    : >/tmp/manifest.$fs
    for cut in $(seq 1 "$CUTS"); do
        mount -t "$fs" "$RSNULL_DEV" $MNT || fail "cut $cut: mount after power-on failed"
        "$TU" crash-verify $MNT /tmp/manifest.$fs >/dev/null || fail "cut $cut: fsynced data lost"
        mkdir -p $MNT/r$cut
        # The cut comes within the next 1..400 writes and flushes.
        echo 400 >"$d/crash_random"
        out=$("$TU" crash-workload $MNT/r$cut /tmp/manifest.$fs f 400 20K "$cut")
        echo "cut $cut after $(<"$d/crash_after_writes") more: $out"
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
    mount -t "$fs" "$RSNULL_DEV" $MNT
    "$TU" crash-verify $MNT /tmp/manifest.$fs
    umount $MNT
    echo "$CUTS cuts, $total files fsynced and kept"
    [ "$total" -gt 0 ] || fail "no file was ever fsynced before a cut"
    rsnull_cfs_clean
}

test_ext4_power_cuts() { power_cuts ext4; }
test_xfs_power_cuts() { power_cuts xfs; }

ktap_test "rsnull power cuts: ext4 replays and keeps fsynced files" test_ext4_power_cuts
ktap_test "rsnull power cuts: xfs replays and keeps fsynced files" test_xfs_power_cuts
