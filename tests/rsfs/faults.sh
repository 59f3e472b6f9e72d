#!/usr/bin/env bash
# rsfs on a failing disk: I/O errors are reported where they belong, a
# failed metadata write makes the filesystem read-only (ext4's
# errors=remount-ro), and nothing acknowledged before is lost.
#
# The suites' disk is a configfs rsnull device ($RSFS_CFS): its
# `badblocks` and error probabilities are the faults.
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

# The 512-byte sectors of 4 KiB block B, as a badblocks range.
block_sectors() { echo "$(($1 * 8))-$(($1 * 8 + 7))"; }

# A write to the inode table fails: sync reports EIO, the filesystem is
# read-only from then on with one message naming the device, and what was
# synced before is intact after the disk heals.
test_metadata_write_error_goes_read_only() {
    local itable range
    rsfs_umount
    itable=$(rsfs_sb inode_table_start)
    rsfs_mount
    echo precious >"$M/f"
    "$TU" pwrite --fsync "$M/big" 0 256K 3
    sync -f "$M"
    range=$(block_sectors "$itable")
    echo "+$range" >"$RSFS_CFS/badblocks"
    klog_mark
    chmod 600 "$M/f"       # f's inode, in the first inode table block
    expect_errno EIO sync -f "$M"
    klog_since_mark | grep -q "rsnull0: metadata write failed.*read-only" ||
        fail "no message naming the device and saying read-only"
    findmnt -n -o OPTIONS "$M" | tr , '\n' | grep -qx ro || fail "not read-only after the failed write"
    expect_errno EROFS touch "$M/h"
    expect_errno EROFS "$TU" mkdir "$M/d"
    expect_errno EROFS sh -c "echo more >>'$M/f'"
    assert_eq "$(<"$M/f")" precious "synced file, while read-only"
    [ "$(klog_since_mark | grep -c "metadata write failed")" = 1 ] || fail "more than one read-only message"
    echo "-$range" >"$RSFS_CFS/badblocks"
    rsfs_umount
    # The device's own write error is unseen yet: the first fsync of the
    # device reports it (fsck's would otherwise). Then fsck marks it clean.
    sync "$RSFS_DEV" 2>/dev/null || true
    "$FSCK_RSFS" -y "$RSFS_DEV" || true
    rsfs_mount
    assert_eq "$(<"$M/f")" precious "synced file after the error"
    "$TU" verify --size 256K "$M/big" 0 256K 3
}

# Data writeback fails: fsync reports EIO, and the filesystem stays
# writable (a data error is the file's, not the filesystem's).
test_data_write_error_fsync_eio() {
    "$TU" pwrite "$M/d" 0 64K 5
    sync -f "$M"
    "$TU" pwrite "$M/d" 0 64K 6
    echo 100 >"$RSFS_CFS/write_error_probability"
    local rc=0
    "$TU" pwrite --fsync "$M/d" 64K 4K 7 2>/tmp/fsync.err || rc=$?
    echo 0 >"$RSFS_CFS/write_error_probability"
    cat /tmp/fsync.err
    [ "$rc" -ne 0 ] || fail "fsync succeeded although every write failed"
    grep -q EIO /tmp/fsync.err || fail "fsync failed, but not with EIO"
    # syncfs reports a writeback error nobody has seen on the filesystem
    # yet (the VFS's errseq): once. Then all is well again.
    sync -f "$M" || echo "syncfs reported the data error too (expected once)"
    echo after >"$M/e"
    sync -f "$M"
    assert_eq "$(<"$M/e")" after "a new file after the data error"
}

# A secret file's blocks are freed and the filesystem is otherwise full:
# the next blocks allocated (for $M/new, created before) are the secret's.
free_secret_blocks() {
    "$TU" pwrite --fsync "$M/secret" 0 1M 9
    touch "$M/new"
    "$TU" fill "$M/pad" 3 >/dev/null
    rm "$M/secret"
    sync -f "$M"
}

# A write into blocks another file owned before fails: the blocks stay
# unwritten, so after the page cache lets go of the data the new file reads
# zeros, never the old owner's bytes; fsync reports the error.
test_failed_write_leaves_blocks_unwritten() {
    local data_start total bad
    rsfs_umount
    data_start=$(rsfs_sb data_start) total=$(rsfs_sb total_blocks)
    rsfs_mount
    free_secret_blocks
    # Every data block but the root directory's (the first) fails writes.
    bad="$(( (data_start + 1) * 8 ))-$(( total * 8 - 1 ))"
    echo "+$bad" >"$RSFS_CFS/badblocks"
    expect_errno EIO "$TU" pwrite --fsync "$M/new" 0 1M 10
    echo "-$bad" >"$RSFS_CFS/badblocks"
    findmnt -n -o OPTIONS "$M" | tr , '\n' | grep -qx rw || fail "a data error made the filesystem read-only"
    rsfs_remount
    "$TU" verify --size 1M "$M/new" 0 1M zero
}

# The suites' disk with a volatile cache, a new 16 MiB filesystem on it,
# and $M/new written (not synced) into blocks a deleted secret file used.
cached_disk_with_new_file() {
    rsfs_umount
    rsnull_cfs_power rsfs 0
    echo 16 >"$RSFS_CFS/cache_size"
    rsnull_cfs_power rsfs 1
    rsfs_mkfs --size 16M
    rsfs_mount
    free_secret_blocks
    "$TU" pwrite "$M/new" 0 1M 10
}

# Writes, discards and flushes the disk has completed (crash points count
# all three): fields 5, 12 and 16 of the block layer's stat file.
disk_writes() {
    local -a f
    read -ra f <"/sys/block/${RSFS_DEV#/dev/}/stat"
    echo $(( f[4] + f[11] + f[15] ))
}

# Power cuts at points spread over the writes of a sync that writes a file
# into blocks another file owned before (the disk has a volatile cache):
# afterwards the file holds, block by block, its data or zeros, never the
# old owner's bytes.
test_power_cut_never_exposes_old_data() {
    local n size total before points=8
    cached_disk_with_new_file
    before=$(disk_writes)
    sync -f "$M"
    total=$(( $(disk_writes) - before ))
    echo "the sync makes $total writes and flushes"
    for (( i = 1; i <= points; i++ )); do
        n=$(( (total * i + points - 1) / points ))
        cached_disk_with_new_file
        echo "$n" >"$RSFS_CFS/crash_after_writes"
        sync -f "$M" 2>/dev/null || true
        umount "$M" || fail "cannot unmount after the cut at write $n"
        [ "$(<"$RSFS_CFS/power")" = 0 ] || echo "write $n: the sync wrote less, no cut"
        echo 0 >"$RSFS_CFS/crash_after_writes"
        rsnull_cfs_power rsfs 0
        rsnull_cfs_power rsfs 1
        "$FSCK_RSFS" -y "$RSFS_DEV" >/dev/null || true
        rsfs_mount
        size=$(stat -c %s "$M/new")
        echo "cut at write $n: the new file has $size bytes"
        [ "$size" = 0 ] || [ "$size" = $((1 << 20)) ] || fail "cut at write $n: new file has $size bytes"
        [ "$size" = 0 ] || "$TU" verify --or-zeros "$M/new" 0 1M 10 || fail "cut at write $n: old data exposed"
    done
    # The next test gets a disk without a cache (rsfs_dev_ready).
}

# A crash lost bitmap updates (here the whole block bitmap reads as free)
# on a filesystem that was not cleanly unmounted: the next read-write mount
# marks used every block the inodes claim, so that new files never take
# over old ones, and the result is what fsck calls clean.
test_unclean_mount_claims_used_blocks() {
    local bitmap
    "$TU" pwrite --fsync "$M/a" 0 2M 4
    mkdir "$M/d"
    "$TU" pwrite --fsync "$M/d/b" 0 256K 5
    sync -f "$M"
    rsnull_cfs_power rsfs 0
    umount "$M" || fail "cannot unmount after the cut"
    rsnull_cfs_power rsfs 1
    [ "$(rsfs_sb state)" != 1 ] || fail "the superblock says clean (1) after a cut while mounted"
    bitmap=$(rsfs_sb block_bitmap_start)
    dd if=/dev/zero of="$RSFS_DEV" bs=4096 seek="$bitmap" count=1 conv=notrunc oflag=direct status=none
    klog_mark
    rsfs_mount
    klog_since_mark | grep -q "not cleanly unmounted: [1-9][0-9]* block(s) .* now marked used" ||
        fail "the mount did not report the blocks it marked used"
    "$TU" fill "$M/pad" 6 || fail "filling the filesystem failed"
    "$TU" verify --size 2M "$M/a" 0 2M 4
    "$TU" verify --size 256K "$M/d/b" 0 256K 5
    rsfs_remount
    "$TU" verify --size 2M "$M/a" 0 2M 4
    "$TU" verify --size 256K "$M/d/b" 0 256K 5
}

# The inode table cannot be read: a lookup fails with EIO, nothing
# oopses, and the same lookup works once the disk reads again.
test_metadata_read_error() {
    local itable range
    rsfs_umount
    itable=$(rsfs_sb inode_table_start)
    rsfs_mount
    echo data >"$M/f"
    rsfs_remount                        # f's inode leaves the cache
    range=$(block_sectors "$itable")
    echo "+$range" >"$RSFS_CFS/badblocks"
    echo 1 >/proc/sys/vm/drop_caches    # and the inode table block too
    expect_errno EIO cat "$M/f"
    echo "-$range" >"$RSFS_CFS/badblocks"
    assert_eq "$(<"$M/f")" data "file once the disk reads again"
}

# The power goes while mounted: I/O fails, the filesystem unmounts, and
# after power-on everything synced before the cut is there.
test_power_cut_while_mounted() {
    echo kept >"$M/a"
    "$TU" pwrite --fsync "$M/b" 0 1M 9
    mkdir "$M/d"
    echo inside >"$M/d/e"
    sync -f "$M"
    echo unsynced >"$M/c"
    echo 0 >"$RSFS_CFS/power"
    if sync -f "$M" 2>/dev/null; then fail "sync succeeded with the power off"; fi
    umount "$M" || fail "cannot unmount after a power cut"
    echo 1 >"$RSFS_CFS/power"
    udevadm settle 2>/dev/null || true
    # No journal yet: what was not synced may need fsck's repair.
    "$FSCK_RSFS" -y "$RSFS_DEV" || true
    rsfs_mount
    assert_eq "$(<"$M/a")" kept "synced file after the cut"
    "$TU" verify --size 1M "$M/b" 0 1M 9
    assert_eq "$(<"$M/d/e")" inside "synced file in a directory after the cut"
}

suite() {
    rsfs_test metadata-write-error-read-only test_metadata_write_error_goes_read_only
    rsfs_test data-write-error-fsync-eio test_data_write_error_fsync_eio
    rsfs_test metadata-read-error test_metadata_read_error
    rsfs_test power-cut-while-mounted test_power_cut_while_mounted
    rsfs_test --mkfs "--size 16M" failed-write-leaves-blocks-unwritten test_failed_write_leaves_blocks_unwritten
    rsfs_test power-cut-never-exposes-old-data test_power_cut_never_exposes_old_data
    rsfs_test --mkfs "--size 16M" unclean-mount-claims-used-blocks test_unclean_mount_claims_used_blocks
}

rsfs_for_each_mode suite
