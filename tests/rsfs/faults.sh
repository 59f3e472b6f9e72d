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
}

rsfs_for_each_mode suite
