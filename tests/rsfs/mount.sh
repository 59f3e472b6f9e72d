#!/usr/bin/env bash
# rsfs: mkfs, mount and unmount, statfs, mount options, damaged superblocks,
# what is refused while mounted, and mkfs -t / fsck -t.
#
# Every test starts on a fresh mkfs.rsfs, mounted, and ends with the
# filesystem unmounted and `fsck.rsfs -n` clean (tests/lib/rsfs.sh).
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

# The mount is listed with its type and options, the root is an empty
# directory, and what is written comes back after an unmount.
test_mount_basic() {
    local line opts
    line=$(awk -v m="$M" '$2 == m' /proc/mounts)
    [ -n "$line" ] || fail "$M is not in /proc/mounts"
    echo "$line"
    read -r _ _ fstype opts _ <<<"$line"
    assert_eq "$fstype" rsfs "filesystem type in /proc/mounts"
    tr , '\n' <<<"$opts" | grep -qx rw || fail "not mounted rw: $opts"
    tr , '\n' <<<"$opts" | grep -qx "writeback=$RSFS_MODE" || fail "options lack writeback=$RSFS_MODE: $opts"
    assert_eq "$(findmnt -n -o SOURCE "$M")" "$RSFS_DEV" "mount source"
    assert_eq "$(stat -c '%F %a %u %g %h' "$M")" "directory 755 0 0 2" "a new root directory"
    assert_eq "$("$TU" count "$M")" 0 "entries in a new root"
    echo hello >"$M/f"
    mkdir "$M/d"
    assert_eq "$(<"$M/f")" hello "file content"
    rsfs_umount
    ! grep -q " $M " /proc/mounts || fail "still listed after umount"
    assert_eq "$(rsfs_sb state)" 1 "superblock state after umount (1: clean)"
    rsfs_mount
    assert_eq "$(<"$M/f")" hello "file content after a remount"
    [ -d "$M/d" ] || fail "directory lost across a remount"
    assert_eq "$(stat -c %h "$M")" 3 "root link count with one subdirectory"
    # The writeback= mount option overrides the module parameter.
    local other=iomap
    [ "$RSFS_MODE" = iomap ] && other=folio
    rsfs_umount
    rsfs_mount_with "writeback=$other"
    findmnt -n -o OPTIONS "$M" | tr , '\n' | grep -qx "writeback=$other" || fail "-o writeback=$other not shown"
    echo "written with writeback=$other" >"$M/g"
    rsfs_remount
    findmnt -n -o OPTIONS "$M" | tr , '\n' | grep -qx "writeback=$RSFS_MODE" || fail "default writeback not shown"
    assert_eq "$(<"$M/g")" "written with writeback=$other" "file written under the other mode"
}

# statfs (df) agrees with what mkfs made and follows what is used.
test_statfs() {
    local sb_total sb_data sb_inodes sb_alloc sb_free_inodes
    local bs blocks bfree bavail files ffree bfree2 ffree2 i
    rsfs_umount
    sb_total=$(rsfs_sb total_blocks) sb_data=$(rsfs_sb data_blocks)
    sb_inodes=$(rsfs_sb inode_count) sb_alloc=$(rsfs_sb allocatable_inodes)
    sb_free_inodes=$(rsfs_sb free_inodes)
    assert_eq "$sb_total" $((RSFS_DEV_MB << 8)) "mkfs total_blocks on the whole device"
    rsfs_mount
    df -B4096 "$M"; df -i "$M"
    bs=$(rsfs_bsize) blocks=$(rsfs_blocks) bfree=$(rsfs_bfree) bavail=$(rsfs_bavail)
    files=$(rsfs_files) ffree=$(rsfs_ffree)
    assert_eq "$bs" 4096 "f_bsize"
    assert_ge "$blocks" "$sb_data" "f_blocks vs data blocks"
    assert_le "$blocks" "$sb_total" "f_blocks vs total blocks"
    assert_le "$bfree" "$blocks" "f_bfree vs f_blocks"
    assert_ge "$bfree" $((sb_data - 4)) "f_bfree on a new filesystem"
    assert_le "$bavail" "$bfree" "f_bavail vs f_bfree"
    assert_ge "$files" "$sb_alloc" "f_files vs allocatable inodes"
    assert_le "$files" "$sb_inodes" "f_files vs inode slots"
    assert_eq "$ffree" "$sb_free_inodes" "f_ffree on a new filesystem"
    keep_root_block
    bfree=$(rsfs_bfree_synced) ffree=$(rsfs_ffree)
    assert_eq "$ffree" $((sb_free_inodes - 1)) "f_ffree after creating a file"
    # 1 MiB of data and 12 inodes.
    head -c 1M /dev/urandom >"$M/one"
    mkdir "$M/d"
    for i in $(seq 1 10); do : >"$M/d/f$i"; done
    bfree2=$(rsfs_bfree_synced) ffree2=$(rsfs_ffree)
    assert_le "$bfree2" $((bfree - 256)) "free blocks after writing 1 MiB"
    assert_ge "$bfree2" $((bfree - 256 - 16)) "free blocks after writing 1 MiB (metadata slack 16)"
    assert_eq "$ffree2" $((ffree - 12)) "free inodes after creating 12"
    # The superblock written at unmount has the same counts.
    rsfs_umount
    assert_eq "$(rsfs_sb free_blocks)" "$bfree2" "superblock free_blocks vs statfs"
    assert_eq "$(rsfs_sb free_inodes)" "$ffree2" "superblock free_inodes vs statfs"
    rsfs_mount
    assert_eq "$(rsfs_bfree)" "$bfree2" "f_bfree after a remount"
    assert_eq "$(rsfs_ffree)" "$ffree2" "f_ffree after a remount"
    rm -r "${M:?}/one" "${M:?}/d"
    assert_eq "$(rsfs_bfree_synced)" "$bfree" "f_bfree after deleting everything"
    assert_eq "$(rsfs_ffree)" "$ffree" "f_ffree after deleting everything"
    # A smaller filesystem with few inodes: -N is rounded up to 16 per block.
    rsfs_umount
    rsfs_mkfs --size 64M -N 500
    assert_eq "$(rsfs_sb total_blocks)" 16384 "total_blocks of a 64M mkfs"
    assert_eq "$(rsfs_sb inode_count)" 512 "inode slots of -N 500"
    rsfs_mount
    assert_le "$(rsfs_blocks)" 16384 "f_blocks of a 64 MiB filesystem"
    assert_ge "$(rsfs_blocks)" "$(( 16384 - 512 ))" "f_blocks of a 64 MiB filesystem"
    assert_le "$(rsfs_files)" 512 "f_files with -N 500"
    assert_ge "$(rsfs_files)" 510 "f_files with -N 500"
    assert_eq "$(rsfs_ffree)" 510 "f_ffree with -N 500"
}

# An unknown mount option, or a bad value, is refused with EINVAL and a
# kernel message.
test_bad_mount_option() {
    rsfs_umount
    klog_mark
    expect_errno EINVAL "$TU" mount "$RSFS_DEV" "$M" rsfs no_such_option
    ! rsfs_mounted || fail "mounted with an unknown option"
    expect_errno EINVAL "$TU" mount "$RSFS_DEV" "$M" rsfs "writeback=$RSFS_MODE,bogus=1"
    ! rsfs_mounted || fail "mounted with an unknown option"
    expect_errno EINVAL "$TU" mount "$RSFS_DEV" "$M" rsfs writeback=bogus
    ! rsfs_mounted || fail "mounted with writeback=bogus"
    klog_since_mark | grep rsfs || fail "no kernel message names rsfs after a bad option"
    rsfs_mount
    echo ok >"$M/f"
}

# A superblock damaged in one way is refused at mount: a clear errno (not
# EIO: nothing failed to read), a kernel message, and no write to the
# device. fsck.rsfs refuses it too. Then the good block 0 goes back.
test_corrupt_superblock() {
    local kind=$1 meta before after out rc=0
    echo data >"$M/f"
    rsfs_umount
    meta=$(( $(rsfs_sb data_start) * 4096 ))
    dd if="$RSFS_DEV" of=/tmp/rsfs-sb0 bs=4096 count=1 iflag=direct status=none
    "$TU" corrupt "$RSFS_DEV" "$kind"
    before=$(dev_sum "$meta")
    klog_mark
    if out=$("$TU" mount "$RSFS_DEV" "$M" rsfs 2>&1); then
        umount "$M"
        fail "mounted a superblock with a bad $kind"
    fi
    echo "$out"
    grep -qwE 'EINVAL|EUCLEAN|EBADMSG' <<<"$out" || fail "mount failed, but not with EINVAL, EUCLEAN or EBADMSG"
    ! rsfs_mounted || fail "mounted"
    klog_since_mark | grep rsfs || fail "no kernel message names rsfs after refusing a bad $kind"
    after=$(dev_sum "$meta")
    assert_eq "$after" "$before" "metadata checksum after the refused mount (the device changed)"
    "$FSCK_RSFS" -n "$RSFS_DEV" || rc=$?
    [ "$rc" -ge 4 ] || fail "fsck.rsfs -n exited $rc on a bad $kind"
    dd if=/tmp/rsfs-sb0 of="$RSFS_DEV" bs=4096 count=1 oflag=direct conv=notrunc,fsync status=none
    rsfs_mount
    assert_eq "$(<"$M/f")" data "file after restoring the superblock"
}

# mkfs.rsfs will not write over a mounted filesystem, even with -f.
test_mkfs_refuses_mounted() {
    local out
    echo keep >"$M/keep"
    sync -f "$M"
    if out=$("$MKFS_RSFS" -q -f "$RSFS_DEV" 2>&1); then
        fail "mkfs.rsfs -f succeeded on a mounted device"
    fi
    echo "$out"
    grep -qiE 'mounted|busy|in use' <<<"$out" || fail "mkfs.rsfs does not say the device is in use"
    expect_fail "$MKFS_RSFS" -q "$RSFS_DEV"
    assert_eq "$(<"$M/keep")" keep "file after the refused mkfs"
    rsfs_remount
    assert_eq "$(<"$M/keep")" keep "file after the refused mkfs and a remount"
}

# A mounted rsfs keeps the module loaded; it unloads once unmounted.
test_rmmod_refused_while_mounted() {
    echo data >"$M/f"
    expect_fail rmmod rsfs
    module_loaded rsfs || fail "rsfs unloaded while mounted"
    assert_eq "$(<"$M/f")" data "file after the refused rmmod"
    # An open file in a lazily unmounted filesystem pins it as well.
    exec 3<"$M/f"
    umount -l "$M"
    expect_fail rmmod rsfs
    exec 3<&-
    # The last reference is gone: the superblock goes away (asynchronously
    # after a lazy unmount; wait for the module to become free).
    local i
    for i in $(seq 1 100); do rmmod rsfs 2>/dev/null && break; sleep 0.2; done
    ! module_loaded rsfs || fail "rmmod rsfs failed after the unmount"
    rsfs_load "$RSFS_MODE"
    rsfs_mount
    assert_eq "$(<"$M/f")" data "file after rmmod and insmod"
}

# A read-only mount reads, refuses writes with EROFS and writes nothing to
# the device; remount,ro and remount,rw switch a mounted filesystem.
test_mount_ro() {
    local meta before after
    echo data >"$M/f"
    mkdir "$M/d"
    rsfs_umount
    meta=$(( $(rsfs_sb data_start) * 4096 ))
    before=$(dev_sum $((meta + (4 << 20))))
    rsfs_mount_with ro
    findmnt -n -o OPTIONS "$M" | tr , '\n' | grep -qx ro || fail "not listed as ro"
    assert_eq "$(<"$M/f")" data "file on a ro mount"
    ls -la "$M/d" >/dev/null
    expect_errno EROFS touch "$M/new"
    expect_errno EROFS "$TU" mkdir "$M/d2"
    expect_errno EROFS "$TU" unlink "$M/f"
    expect_errno EROFS sh -c "echo more >>'$M/f'"
    rsfs_umount
    after=$(dev_sum $((meta + (4 << 20))))
    assert_eq "$after" "$before" "device checksum after a ro mount and umount"
    rsfs_mount
    mount -o remount,ro "$M"
    expect_errno EROFS touch "$M/new"
    mount -o remount,rw "$M"
    echo new >"$M/new"
    rsfs_remount
    assert_eq "$(<"$M/new")" new "file written after remount,rw"
}

# remount,ro writes back everything first: data written just before it
# (still only in the page cache) and the inodes survive `remount,ro;
# umount`, and the image is fsck-clean. (Once lost: the VFS does not sync
# on remount, and a read-only filesystem's inodes were never written.)
test_remount_ro_keeps_data() {
    echo precious >"$M/f"
    "$TU" pwrite "$M/g" 0 1048576 7
    mkdir "$M/d"
    echo inside >"$M/d/h"
    mount -o remount,ro "$M"
    umount "$M"
    rsfs_fsck_clean
    assert_eq "$(rsfs_sb state)" 1 "superblock state after remount,ro and umount (1: clean)"
    rsfs_mount
    assert_eq "$(<"$M/f")" precious "small file after remount,ro"
    "$TU" verify --size 1048576 "$M/g" 0 1048576 7
    assert_eq "$(<"$M/d/h")" inside "file in a new directory after remount,ro"
}

# rmmod right after umount: inodes are freed by RCU callbacks that run
# module code, so unloading must wait for them (rcu_barrier).
test_rmmod_after_umount() {
    local i j
    for i in 1 2 3 4 5; do
        for j in $(seq 1 50); do : >"$M/f$i-$j"; done
        ls "$M" >/dev/null
        umount "$M"
        rmmod rsfs || fail "rmmod rsfs right after umount failed"
        insmod "$RSFS_KO" writeback="$RSFS_MODE" || fail "insmod rsfs.ko failed"
        rsfs_mount
    done
    assert_eq "$("$TU" count "$M")" 250 "files after five unload cycles"
}

# mkfs -t rsfs and fsck -t rsfs find the tools by their dotted names on
# PATH, as after `make install`.
test_mkfs_fsck_by_type() {
    local rc=0
    rsfs_umount
    PATH=$RSFS_BIN:$PATH mkfs -t rsfs -f -q "$RSFS_DEV"
    PATH=$RSFS_BIN:$PATH fsck -t rsfs -n "$RSFS_DEV"
    rsfs_mount
    echo x >"$M/x"
    rsfs_umount
    PATH=$RSFS_BIN:$PATH fsck -V -t rsfs -n "$RSFS_DEV" | tee /tmp/rsfs-fsck.out
    grep -q "$RSFS_BIN/fsck.rsfs" /tmp/rsfs-fsck.out || fail "fsck -t rsfs did not run fsck.rsfs"
    # fsck -t passes on the checker's verdict.
    dd if="$RSFS_DEV" of=/tmp/rsfs-sb0 bs=4096 count=1 iflag=direct status=none
    "$TU" corrupt "$RSFS_DEV" crc
    PATH=$RSFS_BIN:$PATH fsck -t rsfs -n "$RSFS_DEV" || rc=$?
    [ "$rc" -ge 4 ] || fail "fsck -t rsfs -n exited $rc on a damaged superblock"
    dd if=/tmp/rsfs-sb0 of="$RSFS_DEV" bs=4096 count=1 oflag=direct conv=notrunc,fsync status=none
    rsfs_mount
    assert_eq "$(<"$M/x")" x "file after mkfs -t / fsck -t"
}

suite() {
    rsfs_test mount-basic test_mount_basic
    rsfs_test statfs test_statfs
    rsfs_test bad-mount-option test_bad_mount_option
    local kind
    for kind in magic crc version too-big layout inode-table bitmap-size; do
        rsfs_test "corrupt-superblock-$kind" test_corrupt_superblock "$kind"
    done
    rsfs_test mkfs-refuses-mounted test_mkfs_refuses_mounted
    rsfs_test rmmod-refused-while-mounted test_rmmod_refused_while_mounted
    rsfs_test mount-ro test_mount_ro
    rsfs_test remount-ro-keeps-data test_remount_ro_keeps_data
    rsfs_test rmmod-after-umount test_rmmod_after_umount
    rsfs_test mkfs-fsck-by-type test_mkfs_fsck_by_type
}

# Mount options, superblocks, remounts: nothing here depends on how file
# data is written back (mount-basic switches modes itself).
rsfs_for_each_mode --any-mode suite
