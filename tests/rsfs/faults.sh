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

# A write to the journal fails: sync (whose commit writes the log) reports
# EIO, the filesystem is read-only from then on with one message naming
# the device, and what was synced before is intact after the disk heals.
test_metadata_write_error_goes_read_only() {
    local jstart jblocks range
    rsfs_umount
    jstart=$(rsfs_sb journal_start)
    jblocks=$(rsfs_sb journal_blocks)
    rsfs_mount
    echo precious >"$M/f"
    "$TU" pwrite --fsync "$M/big" 0 256K 3
    sync -f "$M"
    # The whole log (past the journal superblock).
    range="$(( (jstart + 1) * 8 ))-$(( (jstart + jblocks) * 8 - 1 ))"
    echo "+$range" >"$RSFS_CFS/badblocks"
    klog_mark
    chmod 600 "$M/f"
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
    # The failed commit never completed: the log replays to the state of
    # the last sync, which needs no repair.
    sync "$RSFS_DEV" 2>/dev/null || true
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck -n after a failed commit"
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

# The suites' disk with a volatile cache and a new 16 MiB filesystem on
# it, mounted. (The next test gets a disk without a cache: rsfs_dev_ready.)
cached_disk() {
    rsfs_umount
    rsnull_cfs_power rsfs 0
    echo 16 >"$RSFS_CFS/cache_size"
    rsnull_cfs_power rsfs 1
    rsfs_mkfs --size 16M
    rsfs_mount
}

# The power goes now, while mounted: unflushed writes are lost. The
# filesystem is unmounted and the power comes back.
power_cut() {
    echo 0 >"$RSFS_CFS/power"
    umount "$M" || fail "cannot unmount after the power cut"
    rsnull_cfs_power rsfs 1
    udevadm settle 2>/dev/null || true
}

# cached_disk, and $M/new written (not synced) into blocks a deleted
# secret file used.
cached_disk_with_new_file() {
    cached_disk
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
        "$FSCK_RSFS" -n "$RSFS_DEV" >/tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "cut at write $n: fsck -n before the replay"; }
        rsfs_mount
        size=$(stat -c %s "$M/new")
        echo "cut at write $n: the new file has $size bytes"
        [ "$size" = 0 ] || [ "$size" = $((1 << 20)) ] || fail "cut at write $n: new file has $size bytes"
        [ "$size" = 0 ] || "$TU" verify --or-zeros "$M/new" 0 1M 10 || fail "cut at write $n: old data exposed"
    done
    # The next test gets a disk without a cache (rsfs_dev_ready).
}

# A format 1.0 image (no journal) mounts read-only only, with a message
# naming the fix; fsck.rsfs -O journal adds one, and then it mounts
# read-write.
test_format_1_0_is_read_only() {
    rsfs_umount
    rsfs_mkfs --size 16M -O ^journal
    klog_mark
    # -w: mount(8) would otherwise retry read-only after EROFS.
    if mount -w -t rsfs "$RSFS_DEV" "$M" 2>/dev/null; then fail "a 1.0 image mounted read-write"; fi
    klog_since_mark | grep -q "fsck.rsfs -O journal" || fail "no message naming fsck.rsfs -O journal"
    rsfs_mount_with ro
    expect_errno EROFS touch "$M/f"
    if mount -w -o remount,rw "$M" 2>/dev/null; then fail "a 1.0 image remounted read-write"; fi
    rsfs_umount
    "$FSCK_RSFS" -O journal "$RSFS_DEV" || fail "fsck.rsfs -O journal failed"
    rsfs_mount
    echo kept >"$M/f"
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck after the upgrade and a write"
    rsfs_mount
    assert_eq "$(<"$M/f")" kept "file on the upgraded filesystem"
}

# What fsync acknowledged survives a power cut, with no fsck: the data and
# name of a file fsynced alone (its directory never was), a directory's new
# entries after an fsync of the directory, a rename after an fsync. The
# mount replays the journal; fsck -n is clean before and after.
test_fsync_survives_power_cut() {
    cached_disk
    mkdir "$M/d"
    "$TU" pwrite --fsync "$M/d/a" 0 300K 11
    echo b >"$M/b"
    echo c >"$M/c"
    sync "$M"
    echo old >"$M/r"
    "$TU" pwrite --fsync "$M/tmp" 0 8K 12
    mv "$M/tmp" "$M/r"
    sync "$M/r"
    ln "$M/b" "$M/d/b2"
    sync "$M/d/b2"
    power_cut
    "$FSCK_RSFS" -n "$RSFS_DEV" >/tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "fsck -n before the replay"; }
    grep -q "journal" /tmp/fsck.out || fail "fsck -n did not mention the journal to replay"
    klog_mark
    rsfs_mount
    klog_since_mark | grep -q "journal: replayed [1-9]" || fail "the mount replayed nothing"
    "$TU" verify --size 300K "$M/d/a" 0 300K 11
    # fsync of the directory promises the names, not the files' data.
    [ -e "$M/b" ] && [ -e "$M/c" ] || fail "a file whose directory was fsynced is gone"
    "$TU" verify --size 8K "$M/r" 0 8K 12
    assert_eq "$(stat -c %h "$M/b")" 2 "link count after an fsynced link"
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck -n after the replay"
    rsfs_mount
}

# A write-protected disk is never written: with a log that needs recovery
# on a read-only device, the mount fails with a message (ext4 and XFS
# refuse too), the device unchanged; writable again, the mount replays.
# With nothing to replay a read-only device mounts read-only.
test_read_only_device_not_replayed() {
    local before bytes=$((16 << 20))
    cached_disk
    "$TU" pwrite --fsync "$M/a" 0 64K 21
    power_cut
    blockdev --setro "$RSFS_DEV"
    before=$(dev_sum "$bytes")
    klog_mark
    if mount -t rsfs -o ro "$RSFS_DEV" "$M" 2>/dev/null; then
        umount "$M"
        blockdev --setrw "$RSFS_DEV"
        fail "a log that needs recovery was mounted from a read-only device"
    fi
    klog_since_mark | grep -q "needs recovery but the device is read-only" || fail "no kernel message says why the mount failed"
    assert_eq "$(dev_sum "$bytes")" "$before" "the read-only device after the refused mount"
    blockdev --setrw "$RSFS_DEV"
    rsfs_mount
    "$TU" verify --size 64K "$M/a" 0 64K 21
    rsfs_umount
    blockdev --setro "$RSFS_DEV"
    rsfs_mount_with ro
    "$TU" verify --size 64K "$M/a" 0 64K 21
    rsfs_umount
    blockdev --setrw "$RSFS_DEV"
    rsfs_mount
}

# Without any fsync, metadata commits within the commit interval (5 s): a
# new directory and file are there after a cut 8 s later.
test_commit_interval() {
    cached_disk
    mkdir "$M/g"
    echo x >"$M/g/f"
    sleep 8
    power_cut
    rsfs_mount
    [ -d "$M/g" ] || fail "a directory 8 s old is gone after the cut"
    [ -e "$M/g/f" ] || fail "a file 8 s old is gone after the cut"
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck -n after the cut"
    rsfs_mount
}

# A file unlinked while open keeps its blocks until closed; if the power
# goes first, the next mount frees the orphan, and fsck is clean.
test_orphan_freed_after_power_cut() {
    local free_before
    cached_disk
    # The root directory's first block comes with its first entry.
    echo kept >"$M/kept"
    sync -f "$M"
    free_before=$(stat -f -c %f "$M")
    "$TU" pwrite --fsync "$M/o" 0 1M 13
    exec 3<"$M/o"
    rm "$M/o"
    sync -f "$M"
    # The power goes with the file still open; closing it then (to
    # unmount) frees nothing on the dead disk.
    echo 0 >"$RSFS_CFS/power"
    exec 3<&-
    umount "$M" || fail "cannot unmount after the power cut"
    rsnull_cfs_power rsfs 1
    udevadm settle 2>/dev/null || true
    klog_mark
    rsfs_mount
    klog_since_mark | grep -q "freed 1 orphan" || fail "the mount did not free the orphan"
    assert_eq "$(stat -f -c %f "$M")" "$free_before" "free blocks after the orphan is freed"
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck -n after the orphan was freed"
    rsfs_mount
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
# after power-on everything synced before the cut is there, with no fsck.
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
    rsfs_mount
    assert_eq "$(<"$M/a")" kept "synced file after the cut"
    "$TU" verify --size 1M "$M/b" 0 1M 9
    assert_eq "$(<"$M/d/e")" inside "synced file in a directory after the cut"
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" || fail "fsck -n after the cut"
    rsfs_mount
}

# shutdown FLAGS: FS_IOC_SHUTDOWN on $M (0: sync first, 1: commit the
# journal first, 2: at once).
shutdown_fs() {
    /usr/bin/python3 -c 'import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.ioctl(fd, 0x8004587d, struct.pack("I", int(sys.argv[2])))' "$M" "$1"
}

# FS_IOC_SHUTDOWN stops every write at once: reads and writes fail with
# EIO, the unmount works, and the next mount finds what each flag
# promises: everything (0, a sync first), the committed metadata (1),
# what was acknowledged before (2); fsck is clean each time.
test_shutdown() {
    local flags
    for flags in 2 1 0; do
        echo acked >"$M/a$flags"
        sync "$M/a$flags"
        echo unsynced >"$M/b$flags"
        shutdown_fs "$flags" || fail "FS_IOC_SHUTDOWN $flags failed"
        expect_errno EIO cat "$M/a$flags"
        expect_errno EIO touch "$M/c$flags"
        expect_errno EIO "$TU" pwrite "$M/a$flags" 0 4K 1
        umount "$M" || fail "cannot unmount after shutdown $flags"
        "$FSCK_RSFS" -n "$RSFS_DEV" >/tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "fsck -n after shutdown $flags"; }
        rsfs_mount
        assert_eq "$(<"$M/a$flags")" acked "fsynced file after shutdown $flags"
        [ "$flags" = 2 ] || [ -e "$M/b$flags" ] || fail "shutdown $flags lost a file it should have committed"
        [ "$flags" != 0 ] || assert_eq "$(<"$M/b$flags")" unsynced "file synced by shutdown 0"
    done
    expect_errno EPERM setpriv --reuid=nobody --clear-groups --inh-caps=-all /usr/bin/python3 -c 'import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.ioctl(fd, 0x8004587d, struct.pack("I", 2))' "$M"
}

suite() {
    rsfs_test metadata-write-error-read-only test_metadata_write_error_goes_read_only
    rsfs_test data-write-error-fsync-eio test_data_write_error_fsync_eio
    rsfs_test metadata-read-error test_metadata_read_error
    rsfs_test power-cut-while-mounted test_power_cut_while_mounted
    rsfs_test --mkfs "--size 16M" failed-write-leaves-blocks-unwritten test_failed_write_leaves_blocks_unwritten
    rsfs_test power-cut-never-exposes-old-data test_power_cut_never_exposes_old_data
    rsfs_test format-1.0-is-read-only test_format_1_0_is_read_only
    rsfs_test fsync-survives-power-cut test_fsync_survives_power_cut
    rsfs_test read-only-device-not-replayed test_read_only_device_not_replayed
    rsfs_test commit-interval test_commit_interval
    rsfs_test orphan-freed-after-power-cut test_orphan_freed_after_power_cut
    rsfs_test shutdown test_shutdown
}

rsfs_for_each_mode suite
