#!/usr/bin/env bash
# rsfs: running out of space and inodes. Writes fail with ENOSPC (not EIO,
# no kernel report), what was written is intact, df shows the space gone
# and back, deleted space is reused, the inode table runs out cleanly, and
# an open unlinked file keeps its blocks until the last close.
#
# The filesystems here are small (mkfs.rsfs with a size of 16 MiB on the
# larger device), so filling them is quick. Every test starts on a fresh
# mkfs.rsfs, mounted, and ends with the filesystem unmounted and
# `fsck.rsfs -n` clean (tests/lib/rsfs.sh).
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

# fill_fs FILE SEED [--direct]: write FILE until ENOSPC (then fsync, which
# must succeed); prints the bytes written.
fill_fs() {
    local out
    out=$("$TU" fill "${@:3}" "$1" "$2") || fail "filling with $1: $out"
    echo "$out" >&2
    sed -n 's/^written=\([0-9]*\) .*/\1/p' <<<"$out"
}

no_io_errors() {
    if klog_since_mark | grep -iE 'I/O error|rsfs.*(error|fail)'; then
        fail "the kernel logged errors while the filesystem was full"
    fi
}

test_enospc() {
    local how=$1 flag=() bfree0 written written2
    [ "$how" = direct ] && flag=(--direct)
    keep_root_block
    bfree0=$(rsfs_bfree_synced)
    klog_mark
    written=$(fill_fs "$M/fill" 201 "${flag[@]}")
    df -B4096 "$M"
    # Nearly every free block holds data (a little may go to extent blocks).
    assert_ge "$written" $(( (bfree0 - bfree0 / 20) * 4096 )) "bytes written before ENOSPC (of $((bfree0 * 4096)) free)"
    assert_le "$(rsfs_bfree_synced)" 16 "free blocks when full"
    assert_le "$(rsfs_bavail)" 16 "available blocks when full"
    assert_le "$(df -B4096 --output=avail "$M" | tail -1)" 16 "df avail when full"
    # More writes fail with ENOSPC: buffered, direct, and through dd with fsync.
    expect_errno ENOSPC "$TU" pwrite "$M/more" 0 64K 202
    expect_errno ENOSPC "$TU" pwrite --direct "$M/more2" 0 64K 203
    expect_errno ENOSPC dd if=/dev/zero of="$M/more3" bs=64k count=4 conv=fsync status=none
    expect_errno ENOSPC "$TU" pwrite "$M/fill" "$written" 4K 204
    no_io_errors
    check_ranges() {
        assert_eq "$(stat -c %s "$M/fill")" "$written" "size of the filled file"
        "$TU" verify "$M/fill" 0 "$written" 201
    }
    check_ranges
    rsfs_remount
    check_ranges
    assert_le "$(rsfs_bfree)" 16 "free blocks when full, after remount"
    # Deleting frees everything; the space is used again.
    rm -f "$M/fill" "$M/more" "$M/more2" "$M/more3"
    assert_eq "$(rsfs_bfree_synced)" "$bfree0" "free blocks after deleting everything"
    written2=$(fill_fs "$M/again" 205 "${flag[@]}")
    assert_ge "$written2" $(( written - 16 * 4096 )) "bytes written the second time"
    "$TU" verify "$M/again" 0 "$written2" 205
    rm "$M/again"
    "$TU" pwrite "$M/after" 0 1M 206
    rsfs_remount
    "$TU" verify "$M/after" 0 1M 206
    no_io_errors
}

# Many small files (each its own inode and block) until ENOSPC.
test_enospc_small_files() {
    local out created bfree0
    keep_root_block
    bfree0=$(rsfs_bfree_synced)
    mkdir "$M/d"
    klog_mark
    if out=$("$TU" mkfiles --size 6000 "$M/d" 5000 2>&1); then
        fail "5000 files of 6000 bytes fit in 16 MiB"
    fi
    echo "$out"
    grep -qw ENOSPC <<<"$out" || fail "ran out with something else than ENOSPC"
    created=$(sed -n 's/^created=//p' <<<"$out")
    # Two blocks per file: the filesystem is nearly full.
    assert_ge "$created" $(( (bfree0 - bfree0 / 10) / 2 )) "files created"
    no_io_errors
    "$TU" checkfiles --size 6000 "$M/d" "$created"
    rsfs_remount
    "$TU" checkfiles --size 6000 "$M/d" "$created"
    rm -r "${M:?}/d"
    assert_eq "$(rsfs_bfree_synced)" "$bfree0" "free blocks after deleting the files"
}

# With no free block left: what needs a block fails with ENOSPC, what
# does not (an empty file in a directory with room, an inline symlink,
# a hard link) still works.
test_enospc_namespace() {
    local pad long out created
    mkdir "$M/d"
    : >"$M/d/first"
    fill_fs "$M/fill" 301 >/dev/null
    # Whatever a big file could not use, small files may.
    "$TU" mkfiles --size 4096 "$M" 100 pad 2>/dev/null && fail "100 more blocks in a full filesystem"
    sync -f "$M"
    assert_eq "$(rsfs_bavail)" 0 "available blocks after filling to ENOSPC"
    : >"$M/empty"
    ln -s short-target "$M/fast"
    ln "$M/empty" "$M/d/hard"
    printf -v pad '%200s' ""
    long=${pad// /x}
    expect_errno ENOSPC "$TU" symlink "$long" "$M/slow"
    # A new directory block is needed after some dozens of 200-byte names.
    if out=$("$TU" mkfiles "$M/d" 1000 "$long" 2>&1); then
        fail "1000 entries of 200 bytes fit in a full filesystem"
    fi
    grep -qw ENOSPC <<<"$out" || fail "a full directory failed with something else than ENOSPC: $out"
    created=$(sed -n 's/^created=//p' <<<"$out")
    assert_le "$created" 40 "200-byte entries added with no free block"
    rsfs_remount
    assert_eq "$(readlink "$M/fast")" short-target "inline symlink"
    assert_eq "$(stat -c %h "$M/empty")" 2 "links of the hard-linked file"
    assert_eq "$("$TU" count "$M/d")" $((created + 2)) "entries in d"
    rm "$M/fill"
    "$TU" mkfiles "$M/d" 500 "${long}b"
    assert_eq "$("$TU" count "$M/d")" $((created + 502)) "entries in d after freeing space"
    "$TU" symlink "$long" "$M/slow"
    assert_eq "$(readlink "$M/slow")" "$long" "long symlink after freeing space"
}

test_enospc_inodes() {
    local ffree0 out created
    ffree0=$(rsfs_ffree)
    assert_eq "$ffree0" 62 "free inodes with -N 64 (slot 0 and the root are taken)"
    if out=$("$TU" mkfiles "$M" 1000 2>&1); then
        fail "1000 files with 64 inodes"
    fi
    grep -qw ENOSPC <<<"$out" || fail "running out of inodes gave something else than ENOSPC: $out"
    created=$(sed -n 's/^created=//p' <<<"$out")
    assert_eq "$created" "$ffree0" "files created"
    assert_eq "$(rsfs_ffree)" 0 "free inodes"
    assert_eq "$(df --output=iavail "$M" | tail -1 | tr -d " ")" 0 "df free inodes"
    expect_errno ENOSPC "$TU" mkdir "$M/dir"
    expect_errno ENOSPC "$TU" symlink target "$M/link"
    expect_errno ENOSPC "$TU" creat "$M/one-more"
    # A hard link needs no inode.
    "$TU" link "$M/f0" "$M/f0-link"
    rsfs_remount
    assert_eq "$(rsfs_ffree)" 0 "free inodes after remount"
    "$TU" checkfiles "$M" "$created"
    rm "$M/f0"
    expect_errno ENOSPC "$TU" creat "$M/one-more"
    rm "$M/f0-link"
    "$TU" creat "$M/one-more"
    assert_eq "$(rsfs_ffree)" 0 "free inodes after reusing one"
    rm -f "$M"/f* "$M/one-more"
    assert_eq "$(rsfs_ffree)" "$ffree0" "free inodes after deleting everything"
}

# An unlinked file that is still open keeps its blocks and inode; they are
# freed at the last close.
test_open_unlinked() {
    local bfree0 ffree0 used
    keep_root_block
    bfree0=$(rsfs_bfree_synced)
    ffree0=$(rsfs_ffree)
    head -c 2M /dev/urandom >/tmp/ou.ref
    exec 3<>"$M/tmpfile"
    cat /tmp/ou.ref >&3
    used=$((bfree0 - $(rsfs_bfree_synced)))
    assert_ge "$used" 512 "blocks used by 2 MiB"
    rm "$M/tmpfile"
    [ ! -e "$M/tmpfile" ] || fail "unlinked name still there"
    assert_eq "$("$TU" count "$M")" 1 "root entries"
    assert_eq "$(rsfs_bfree_synced)" $((bfree0 - used)) "free blocks while the unlinked file is open"
    assert_eq "$(rsfs_ffree)" $((ffree0 - 1)) "free inodes while the unlinked file is open"
    cmp /tmp/ou.ref "/proc/$BASHPID/fd/3" || fail "the open unlinked file's data"
    # It can still grow.
    cat /tmp/ou.ref >&3
    assert_le "$(rsfs_bfree_synced)" $((bfree0 - used - 512)) "free blocks after growing the unlinked file"
    exec 3>&-
    assert_eq "$(rsfs_bfree_synced)" "$bfree0" "free blocks after the last close"
    assert_eq "$(rsfs_ffree)" "$ffree0" "free inodes after the last close"
    # The same in another process: its exit is the last close.
    (exec 4>"$M/other"; rm "$M/other"; head -c 1M /dev/urandom >&4; sync -f "$M")
    assert_eq "$(rsfs_bfree_synced)" "$bfree0" "free blocks after a process with an unlinked file exits"
    rsfs_remount
    assert_eq "$(rsfs_bfree)" "$bfree0" "free blocks after remount"
    assert_eq "$(rsfs_ffree)" "$ffree0" "free inodes after remount"
}

suite() {
    rsfs_test --mkfs "--size 16M" enospc-buffered test_enospc buffered
    rsfs_test --mkfs "--size 16M" enospc-direct test_enospc direct
    rsfs_test --mkfs "--size 16M -N 8192" enospc-small-files test_enospc_small_files
    rsfs_test --mkfs "--size 16M" enospc-namespace test_enospc_namespace
    rsfs_test --mkfs "-N 64" enospc-inodes test_enospc_inodes
    rsfs_test --mkfs "--size 16M" open-unlinked test_open_unlinked
}

rsfs_for_each_mode suite
