#!/usr/bin/env bash
# rsfs at scale: a long mode, skipped unless asked for.
#
#   RSFS_SCALE_EXTENTS=N tests/run.sh tests/rsfs/scale.sh
#
# makes a file of N extents (every other 4 KiB block written). Past 131072
# extents, one kmalloc'd extent vector would need an order-11 allocation
# (a WARN and ENOMEM, reachable by any user who can write a sparse file);
# rsfs's is kvmalloc'd. The writes, fsync, a remount, reading everything
# back, fsck and deleting the file must all work, with a clean kernel log.
# N = 140000 needs a 680 MiB disk, stored in the guest's memory.
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

# rsfs_dev_size MB: the suites' disk, remade with MB MiB, powered.
rsfs_dev_size() {
    rsfs_umount
    rsnull_cfs_power rsfs 0
    echo "$1" >"$RSFS_CFS/size"
    rsnull_cfs_power rsfs 1
}

test_many_extents() {
    local n=${RSFS_SCALE_EXTENTS:-} mb blocks
    [ -n "$n" ] || skip "a long mode: set RSFS_SCALE_EXTENTS"
    # mkfs's largest default journal (64 MiB): a file's overflow chain
    # must fit a quarter of a transaction, which allows 391,000 extents.
    mb=$(( n * 4 / 1024 * 11 / 10 + 128 ))
    rsfs_dev_size "$mb"
    rsfs_mkfs -J 16384
    rsfs_mount
    "$TU" checkerboard "$M/f" "$n" 7
    blocks=$(stat -c %b "$M/f")
    echo "$n extents: $blocks 512-byte blocks"
    [ "$blocks" -ge $(( n * 8 )) ] || fail "the file owns $blocks sectors, fewer than its $n blocks"
    rsfs_remount
    "$TU" checkerboard --verify "$M/f" "$n" 7
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck.rsfs -n after a file of $n extents"
    rsfs_mount
    rm "$M/f"
    sync -f "$M"
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck.rsfs -n after deleting the file"
    rsfs_dev_size "$RSFS_DEV_MB"
    rsfs_mkfs
    rsfs_mount
}

suite() {
    rsfs_test many-extents-scale test_many_extents
}

rsfs_for_each_mode --any-mode suite
