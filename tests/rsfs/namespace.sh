#!/usr/bin/env bash
# rsfs: names. create, mkdir, rmdir, unlink, rename (plain, replacing,
# across directories, RENAME_NOREPLACE, RENAME_EXCHANGE), hard links,
# symlinks, device nodes, readdir, the errors, attributes, permissions, a
# 10,000-entry directory, and persistence across remount and module reload.
#
# Every test starts on a fresh mkfs.rsfs, mounted, and ends with the
# filesystem unmounted and `fsck.rsfs -n` clean (tests/lib/rsfs.sh).
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

# listing DIR: the names in DIR (without . and ..), sorted, on one line.
listing() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | tr '\n' ' '; }

ino() { stat -c %i "$1"; }
links() { stat -c %h "$1"; }

# A string of N copies of character C.
repeat() { local s; printf -v s "%$2s" ""; echo "${s// /$1}"; }

test_create_unlink() {
    local i1 i2 i3
    : >"$M/empty"
    echo hello >"$M/small"
    head -c 3000 /dev/zero | tr '\0' x >"$M/medium"
    assert_eq "$(stat -c '%F %s %h' "$M/empty")" "regular empty file 0 1" "empty file"
    assert_eq "$(stat -c '%F %s %h' "$M/small")" "regular file 6 1" "small file"
    assert_eq "$(stat -c '%s' "$M/medium")" 3000 "medium file size"
    i1=$(ino "$M/empty") i2=$(ino "$M/small") i3=$(ino "$M/medium")
    assert_eq "$(printf '%s\n' "$i1" "$i2" "$i3" | sort -u | wc -l)" 3 "distinct inode numbers ($i1 $i2 $i3)"
    assert_eq "$(listing "$M")" "empty medium small " "listing"
    expect_errno EEXIST "$TU" creat --excl "$M/small"
    "$TU" unlink "$M/small"
    [ ! -e "$M/small" ] || fail "unlinked file still there"
    expect_errno ENOENT cat "$M/small"
    expect_errno ENOENT "$TU" unlink "$M/small"
    assert_eq "$(listing "$M")" "empty medium " "listing after unlink"
    echo again >"$M/small"
    assert_eq "$(<"$M/small")" again "a name reused"
    rsfs_remount
    assert_eq "$(listing "$M")" "empty medium small " "listing after remount"
    assert_eq "$(<"$M/small")" again "content after remount"
    assert_eq "$(tr -d x <"$M/medium" | wc -c)" 0 "medium file content after remount"
    assert_eq "$(ino "$M/empty")" "$i1" "inode number after remount"
}

test_mkdir_rmdir() {
    mkdir -p "$M/a/b/c"
    mkdir "$M/a/d"
    "$TU" mkdir "$M/a/private" 700
    assert_eq "$(stat -c '%F %a' "$M/a/private")" "directory 700" "mkdir mode"
    assert_eq "$(links "$M")" 3 "root links"
    assert_eq "$(links "$M/a")" 5 "a links (b, d, private)"
    assert_eq "$(links "$M/a/b")" 3 "b links"
    assert_eq "$(links "$M/a/b/c")" 2 "c links"
    assert_eq "$(ino "$M/a/b/..")" "$(ino "$M/a")" "b/.. is a"
    assert_eq "$(ino "$M/a/..")" "$(ino "$M")" "a/.. is the root"
    expect_errno EEXIST "$TU" mkdir "$M/a"
    expect_errno ENOENT "$TU" mkdir "$M/nope/x"
    expect_errno ENOTEMPTY "$TU" rmdir "$M/a"
    echo f >"$M/a/file"
    expect_errno ENOTDIR "$TU" rmdir "$M/a/file"
    expect_errno ENOTDIR "$TU" mkdir "$M/a/file/x"
    expect_errno ENOENT "$TU" rmdir "$M/a/none"
    rsfs_remount
    assert_eq "$(links "$M/a")" 5 "a links after remount"
    assert_eq "$(ino "$M/a/b/..")" "$(ino "$M/a")" "b/.. after remount"
    "$TU" rmdir "$M/a/b/c"
    assert_eq "$(links "$M/a/b")" 2 "b links after rmdir c"
    "$TU" rmdir "$M/a/private"
    "$TU" rmdir "$M/a/b"
    "$TU" rmdir "$M/a/d"
    assert_eq "$(links "$M/a")" 2 "a links after removing its subdirectories"
    rm "$M/a/file"
    "$TU" rmdir "$M/a"
    assert_eq "$(links "$M")" 2 "root links when empty"
    assert_eq "$(listing "$M")" "" "root listing"
    rsfs_remount
    assert_eq "$(listing "$M")" "" "root listing after remount"
    assert_eq "$(links "$M")" 2 "root links after remount"
}

test_rename() {
    local i ffree
    echo one >"$M/a"
    i=$(ino "$M/a")
    "$TU" rename "$M/a" "$M/b"
    [ ! -e "$M/a" ] || fail "old name still there"
    assert_eq "$(<"$M/b")" one "renamed content"
    assert_eq "$(ino "$M/b")" "$i" "inode kept by rename"
    # Over an existing file: the target's inode is freed.
    echo two >"$M/c"
    sync -f "$M"
    ffree=$(rsfs_ffree)
    "$TU" rename "$M/b" "$M/c"
    assert_eq "$(<"$M/c")" one "content after rename over a file"
    assert_eq "$(listing "$M")" "c " "listing after rename over a file"
    sync -f "$M"
    assert_eq "$(rsfs_ffree)" $((ffree + 1)) "free inodes after replacing a file"
    # Across directories, a file and a directory (.. and link counts follow).
    mkdir "$M/d1" "$M/d2"
    "$TU" rename "$M/c" "$M/d1/c"
    assert_eq "$(<"$M/d1/c")" one "file moved to another directory"
    mkdir "$M/d1/sub"
    echo s >"$M/d1/sub/f"
    assert_eq "$(links "$M/d1")" 3 "d1 links"
    "$TU" rename "$M/d1/sub" "$M/d2/sub"
    assert_eq "$(links "$M/d1")" 2 "d1 links after moving sub out"
    assert_eq "$(links "$M/d2")" 3 "d2 links after moving sub in"
    assert_eq "$(ino "$M/d2/sub/..")" "$(ino "$M/d2")" "sub/.. after the move"
    assert_eq "$(<"$M/d2/sub/f")" s "file in the moved directory"
    # A directory over an empty directory replaces it; over a non-empty one, ENOTEMPTY.
    mkdir "$M/e1" "$M/e2"
    "$TU" rename "$M/e1" "$M/e2"
    [ ! -e "$M/e1" ] || fail "rename of a directory over an empty one left the old name"
    [ -d "$M/e2" ] || fail "rename of a directory over an empty one lost the directory"
    assert_eq "$(links "$M")" 5 "root links (d1 d2 e2)"
    expect_errno ENOTEMPTY "$TU" rename "$M/e2" "$M/d2"
    expect_errno EISDIR "$TU" rename "$M/d1/c" "$M/e2"
    expect_errno ENOTDIR "$TU" rename "$M/e2" "$M/d1/c"
    expect_errno EINVAL "$TU" rename "$M/d2" "$M/d2/sub/x"
    expect_errno ENOENT "$TU" rename "$M/nothing" "$M/x"
    # Renaming onto itself or onto another link of the same inode does nothing.
    "$TU" rename "$M/d1/c" "$M/d1/c"
    ln "$M/d1/c" "$M/d1/c2"
    "$TU" rename "$M/d1/c" "$M/d1/c2"
    assert_eq "$(listing "$M/d1")" "c c2 " "names after renaming onto another link"
    # Longer and shorter names in the same directory.
    "$TU" rename "$M/d1/c2" "$M/d1/$(repeat L 200)"
    "$TU" rename "$M/d1/$(repeat L 200)" "$M/d1/s"
    assert_eq "$(listing "$M/d1")" "c s " "names after long and short renames"
    tree_manifest "$M" >/tmp/ns.before
    rsfs_remount
    tree_manifest "$M" >/tmp/ns.after
    diff /tmp/ns.before /tmp/ns.after || fail "tree changed across a remount"
    assert_eq "$(links "$M/d2")" 3 "d2 links after remount"
    assert_eq "$(ino "$M/d2/sub/..")" "$(ino "$M/d2")" "sub/.. after remount"
}

test_rename_noreplace() {
    echo A >"$M/a"
    echo B >"$M/b"
    mkdir "$M/d"
    expect_errno EEXIST "$TU" rename --noreplace "$M/a" "$M/b"
    expect_errno EEXIST "$TU" rename --noreplace "$M/a" "$M/d"
    assert_eq "$(<"$M/a") $(<"$M/b")" "A B" "contents after refused renames"
    "$TU" rename --noreplace "$M/a" "$M/c"
    "$TU" rename --noreplace "$M/d" "$M/d-moved"
    rsfs_remount
    assert_eq "$(listing "$M")" "b c d-moved " "listing after remount"
    assert_eq "$(<"$M/b") $(<"$M/c")" "B A" "contents after remount"
}

check_exchanged() {
    assert_eq "$(<"$M/a") $(<"$M/b")" "B A" "contents after exchange"
    assert_eq "$(ino "$M/a") $(ino "$M/b")" "$1 $2" "inodes after exchange"
    assert_eq "$(stat -c %F "$M/p1/x") $(stat -c %F "$M/p2/x")" "directory regular file" "types after exchange"
    assert_eq "$(<"$M/p1/x/inner") $(<"$M/p2/x")" "in f" "contents after exchange across directories"
    assert_eq "$(links "$M/p1") $(links "$M/p2")" "3 2" "parent links after exchange"
    assert_eq "$(ino "$M/p1/x/..")" "$(ino "$M/p1")" "moved directory's .."
}

test_rename_exchange() {
    local ia ib
    echo A >"$M/a"
    echo B >"$M/b"
    ia=$(ino "$M/a") ib=$(ino "$M/b")
    "$TU" rename --exchange "$M/a" "$M/b"
    # A file and a directory in different parents.
    mkdir -p "$M/p1" "$M/p2/x"
    echo f >"$M/p1/x"
    echo in >"$M/p2/x/inner"
    assert_eq "$(links "$M/p1") $(links "$M/p2")" "2 3" "parent links before exchange"
    "$TU" rename --exchange "$M/p1/x" "$M/p2/x"
    check_exchanged "$ib" "$ia"
    expect_errno ENOENT "$TU" rename --exchange "$M/a" "$M/nothing"
    rsfs_remount
    check_exchanged "$ib" "$ia"
}

test_link() {
    local i
    echo data >"$M/f"
    mkdir "$M/d"
    i=$(ino "$M/f")
    "$TU" link "$M/f" "$M/g"
    ln "$M/f" "$M/d/h"
    assert_eq "$(links "$M/f") $(ino "$M/g") $(ino "$M/d/h")" "3 $i $i" "links and inode numbers"
    expect_errno EEXIST "$TU" link "$M/f" "$M/d/h"
    expect_errno EPERM "$TU" link "$M/d" "$M/dlink"
    expect_errno ENOENT "$TU" link "$M/none" "$M/x"
    "$TU" unlink "$M/f"
    assert_eq "$(links "$M/g")" 2 "links after unlinking one name"
    rsfs_remount
    assert_eq "$(links "$M/g") $(<"$M/d/h")" "2 data" "links and content after remount"
    # Many links, then all removed: the inode is freed at the last one.
    local n ffree
    sync -f "$M"
    ffree=$(rsfs_ffree)
    local more=()
    for n in $(seq 1 50); do more+=("$M/d/l$n"); done
    "$TU" link "$M/g" "${more[@]}"
    assert_eq "$(links "$M/g")" 52 "links after 50 more"
    rsfs_remount
    assert_eq "$(links "$M/d/l50")" 52 "links after remount"
    rm "$M"/d/l*
    rm "$M/g" "$M/d/h"
    sync -f "$M"
    assert_eq "$(rsfs_ffree)" $((ffree + 1)) "free inodes after removing every link"
}

test_symlink() {
    local short long max toolong deep
    short="short-target"
    long=$(repeat x 200)
    max=$(repeat y 4095)
    toolong=$(repeat z 4096)
    ln -s "$short" "$M/s1"
    ln -s "$long" "$M/s2"
    ln -s "$max" "$M/s3"
    expect_errno ENAMETOOLONG "$TU" symlink "$toolong" "$M/s4"
    assert_eq "$(stat -c '%F %s' "$M/s1")" "symbolic link ${#short}" "short symlink"
    assert_eq "$(stat -c '%F %s' "$M/s2")" "symbolic link 200" "long symlink"
    assert_eq "$(stat -c '%s' "$M/s3")" 4095 "maximal symlink"
    # Following: a relative target in a deep directory, longer than 127 bytes.
    deep="$(repeat a 60)/$(repeat b 60)/$(repeat c 60)"
    mkdir -p "$M/$deep"
    echo content >"$M/$deep/file"
    ln -s "$deep/file" "$M/s5"
    ln -s "$M/$deep/file" "$M/s6"
    ln -s nowhere "$M/s7"
    ln -s loop2 "$M/loop1"
    ln -s loop1 "$M/loop2"
    check_symlinks() {
        assert_eq "$(readlink "$M/s1")" "$short" "short target"
        assert_eq "$(readlink "$M/s2")" "$long" "long target"
        assert_eq "$(readlink "$M/s3")" "$max" "maximal target"
        assert_eq "$(<"$M/s5") $(<"$M/s6")" "content content" "reading through symlinks"
        assert_eq "$(readlink "$M/s7")" nowhere "dangling target"
        expect_errno ENOENT cat "$M/s7"
        expect_errno ELOOP cat "$M/loop1"
    }
    check_symlinks
    rsfs_remount
    check_symlinks
    rsfs_reload
    check_symlinks
    rm "$M/s5" "$M/s6" "$M/s1" "$M/s2" "$M/s3"
    assert_eq "$(<"$M/$deep/file")" content "target after removing its symlinks"
}

test_special_files() {
    local out
    if ! out=$("$TU" mkdir "$M/dev" 2>&1 && mknod "$M/dev/null" c 1 3 2>&1); then
        grep -qE 'Operation not permitted|not supported' <<<"$out" && skip "mknod: $out"
        fail "mknod: $out"
    fi
    mknod "$M/dev/loop" b 7 0
    mkfifo "$M/dev/fifo"
    check_nodes() {
        assert_eq "$(stat -c '%F %t %T' "$M/dev/null")" "character special file 1 3" "char device node"
        assert_eq "$(stat -c '%F %t %T' "$M/dev/loop")" "block special file 7 0" "block device node"
        assert_eq "$(stat -c '%F' "$M/dev/fifo")" "fifo" "fifo"
        echo discarded >"$M/dev/null"
        assert_eq "$(wc -c <"$M/dev/null")" 0 "reading the null device"
        (echo through >"$M/dev/fifo") &
        assert_eq "$(<"$M/dev/fifo")" through "data through the fifo"
        wait
    }
    check_nodes
    rsfs_remount
    check_nodes
}

test_readdir() {
    local i name
    mkdir "$M/d"
    : >/tmp/names
    # 300 names of 1 to 255 bytes: the directory spans many blocks.
    local pad
    for i in $(seq 1 300); do
        printf -v pad "%$(( (i * 37) % 255 + 1 ))s" ""
        name="$i-${pad// /n}"
        name=${name:0:255}
        : >"$M/d/$name"
        echo "$name" >>/tmp/names
    done
    check_names() {
        assert_eq "$(find "$M/d" -mindepth 1 -printf '%f\n' | LC_ALL=C sort | sha256sum)" \
            "$(LC_ALL=C sort /tmp/names | sha256sum)" "directory listing ($1)"
        assert_eq "$("$TU" count "$M/d")" "$(wc -l </tmp/names)" "entry count ($1)"
    }
    check_names created
    # Remove every third, then add 100 more: freed slots are reused.
    (cd "$M/d" && awk 'NR % 3 == 0' /tmp/names | xargs -d '\n' rm --)
    awk 'NR % 3 != 0' /tmp/names >/tmp/names.kept && mv /tmp/names.kept /tmp/names
    check_names "after removals"
    for i in $(seq 301 400); do
        printf -v pad "%$(( (i * 53) % 200 + 1 ))s" ""
        name="$i-${pad// /m}"
        : >"$M/d/$name"
        echo "$name" >>/tmp/names
    done
    check_names "after refilling"
    rsfs_remount
    check_names "after remount"
    rm -r "${M:?}/d"
    [ ! -e "$M/d" ] || fail "rm -r left the directory"
}

test_name_errors() {
    local n255 n256
    n255=$(repeat n 255)
    n256=$(repeat n 256)
    : >"$M/$n255"
    mkdir "$M/dir"
    echo f >"$M/file"
    assert_eq "$(find "$M" -maxdepth 1 -name 'nnn*' -printf '%f' | wc -c)" 255 "a 255-byte name"
    expect_errno ENAMETOOLONG "$TU" creat "$M/$n256"
    expect_errno ENAMETOOLONG "$TU" mkdir "$M/$n256"
    expect_errno ENAMETOOLONG "$TU" symlink x "$M/$n256"
    expect_errno ENAMETOOLONG "$TU" link "$M/file" "$M/$n256"
    expect_errno ENAMETOOLONG "$TU" rename "$M/file" "$M/$n256"
    expect_errno ENAMETOOLONG stat "$M/$n256"
    expect_errno EEXIST "$TU" creat --excl "$M/file"
    expect_errno EEXIST "$TU" mkdir "$M/file"
    expect_errno EEXIST "$TU" symlink x "$M/dir"
    expect_errno EEXIST "$TU" link "$M/file" "$M/$n255"
    expect_errno ENOENT "$TU" unlink "$M/none"
    expect_errno ENOENT "$TU" rmdir "$M/none"
    expect_errno ENOENT stat "$M/none/x"
    expect_errno ENOENT cat "$M/dir/none"
    expect_errno EISDIR sh -c ": >'$M/dir'"
    expect_errno EISDIR "$TU" unlink "$M/dir"
    expect_errno EISDIR "$TU" rename "$M/file" "$M/dir"
    expect_errno ENOTDIR cat "$M/file/x"
    expect_errno ENOTDIR "$TU" rmdir "$M/file"
    expect_errno ENOTDIR "$TU" creat "$M/file/x"
    expect_errno ENOTDIR "$TU" rename "$M/dir" "$M/file"
    # Nothing was changed by the failures.
    rsfs_remount
    assert_eq "$(listing "$M" | wc -w)" 3 "entries after the failed calls"
    assert_eq "$(<"$M/file")" f "file after the failed calls"
}

test_attributes_persist() {
    echo x >"$M/f"
    mkdir "$M/d"
    ln -s f "$M/l"
    # chown clears set-user-ID: chown first.
    chown 1234:5678 "$M/f"
    chown 42:43 "$M/d"
    chown -h 7:8 "$M/l"
    chmod 4751 "$M/f"
    chmod 1777 "$M/d"
    touch -m -d '2001-02-03 04:05:06.123456789' "$M/f"
    touch -a -d '1999-12-31 23:59:59.5' "$M/f"
    touch -m -d '2100-01-01 00:00:01.000000001' "$M/d/late"
    touch -m -d '1969-07-20 20:17:40' "$M/d"
    attrs() { stat -c '%n %F %a %u %g %s %h %x %y %z' "$M/f" "$M/d" "$M/l" "$M/d/late"; }
    assert_eq "$(stat -c '%a %u %g' "$M/f")" "4751 1234 5678" "mode and owner"
    assert_eq "$(stat -c '%y' "$M/f")" "2001-02-03 04:05:06.123456789 +0000" "mtime with nanoseconds"
    assert_eq "$(stat -c '%x' "$M/f")" "1999-12-31 23:59:59.500000000 +0000" "atime"
    assert_eq "$(stat -c '%Y' "$M/d")" -14182940 "mtime before 1970"
    assert_eq "$(stat -c '%y' "$M/d/late")" "2100-01-01 00:00:01.000000001 +0000" "mtime in 2100"
    attrs >/tmp/attrs.before
    rsfs_remount
    attrs >/tmp/attrs.after
    diff /tmp/attrs.before /tmp/attrs.after || fail "attributes changed across a remount"
    rsfs_reload
    attrs >/tmp/attrs.after
    diff /tmp/attrs.before /tmp/attrs.after || fail "attributes changed across rmmod/insmod"
}

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

test_permissions() {
    command -v setpriv >/dev/null || skip "no setpriv"
    mkdir "$M/priv"
    chmod 700 "$M/priv"
    echo secret >"$M/priv/s"
    echo readable >"$M/ro"
    chmod 644 "$M/ro"
    mkdir "$M/pub"
    chmod 1777 "$M/pub"
    echo root >"$M/pub/r"
    mkdir "$M/sg"
    chown 0:4321 "$M/sg"
    chmod 2775 "$M/sg"
    check_permissions() {
        expect_errno EACCES as_nobody cat "$M/priv/s"
        expect_errno EACCES as_nobody ls "$M/priv"
        expect_errno EACCES as_nobody sh -c "echo x >'$M/ro'"
        expect_errno EACCES as_nobody touch "$M/newfile"
        assert_eq "$(as_nobody cat "$M/ro")" readable "world-readable file as nobody"
        expect_errno EPERM as_nobody rm -f "$M/pub/r"
        expect_errno EPERM as_nobody chmod 777 "$M/ro"
        expect_errno EPERM as_nobody chown 65534 "$M/ro"
    }
    check_permissions
    as_nobody sh -c "echo mine >'$M/pub/n'"
    assert_eq "$(stat -c '%u %g' "$M/pub/n")" "65534 65534" "owner of a file nobody created"
    as_nobody rm "$M/pub/n"
    as_nobody sh -c "echo mine >'$M/pub/n2'"
    # setgid directories pass on their group (and setgid to subdirectories).
    : >"$M/sg/f"
    mkdir "$M/sg/sub"
    assert_eq "$(stat -c '%g' "$M/sg/f")" 4321 "group inherited from a setgid directory"
    assert_eq "$(stat -c '%g %a' "$M/sg/sub")" "4321 2755" "setgid subdirectory"
    rsfs_remount
    check_permissions
    assert_eq "$(stat -c '%u %g' "$M/pub/n2")" "65534 65534" "owner after remount"
    assert_eq "$(stat -c '%g %a' "$M/sg/sub")" "4321 2755" "setgid subdirectory after remount"
}

test_many_files() {
    local ffree n=10000
    # Made with -N 10240 (see suite): the default, one inode per 16 KiB,
    # is fewer than 10,000 on the suites' device.
    mkdir "$M/big"
    sync -f "$M"
    ffree=$(rsfs_ffree)
    "$TU" mkfiles "$M/big" $n
    assert_eq "$("$TU" count "$M/big")" $n "entries"
    # shellcheck disable=SC2012 # ls -f: readdir order, no sorting, with . and ..
    assert_eq "$(ls -f "$M/big" | wc -l)" $((n + 2)) "ls -f lines (with . and ..)"
    seq -f 'f%.0f' 0 $((n - 1)) | LC_ALL=C sort >/tmp/many.want
    find "$M/big" -mindepth 1 -printf '%f\n' | LC_ALL=C sort >/tmp/many.got
    cmp /tmp/many.want /tmp/many.got || fail "names differ"
    local i
    for i in 0 1 17 4999 5000 9998 9999; do
        assert_eq "$(stat -c '%F %s %h' "$M/big/f$i")" "regular empty file 0 1" "f$i"
    done
    expect_errno EEXIST "$TU" creat --excl "$M/big/f5000"
    expect_errno ENOENT stat "$M/big/f$n"
    sync -f "$M"
    assert_eq "$(rsfs_ffree)" $((ffree - n)) "free inodes with $n files"
    rsfs_remount
    "$TU" checkfiles "$M/big" $n
    find "$M/big" -mindepth 1 -printf '%f\n' | LC_ALL=C sort >/tmp/many.got
    cmp /tmp/many.want /tmp/many.got || fail "names differ after remount"
    "$TU" rmfiles "$M/big" $n
    assert_eq "$("$TU" count "$M/big")" 0 "entries after deleting all"
    "$TU" rmdir "$M/big"
    sync -f "$M"
    assert_eq "$(rsfs_ffree)" $((ffree + 1)) "free inodes after deleting all"
}

# A tree of every kind of entry comes back identical after a remount and
# after the module is unloaded and loaded again.
test_tree_persists() {
    local i
    mkdir -p "$M/t/a/b/c" "$M/t/e"
    for i in 0 1 100 4095 4096 4097 65536 100000; do
        head -c "$i" /dev/urandom >"$M/t/a/f$i"
    done
    head -c $(( (1 << 20) + 3 )) /dev/urandom >"$M/t/a/b/c/big"
    ln "$M/t/a/f100" "$M/t/e/hard"
    ln -s ../a/f4096 "$M/t/e/soft"
    ln -s "$(repeat p 300)" "$M/t/e/longsoft"
    chmod 600 "$M/t/a/f1"
    chown 11:22 "$M/t/a/f0"
    touch -d '2020-02-02 02:02:02.2' "$M/t/a/f4097"
    tree_manifest "$M/t" >/tmp/tree.before
    rsfs_remount
    tree_manifest "$M/t" >/tmp/tree.after
    diff /tmp/tree.before /tmp/tree.after || fail "tree changed across a remount"
    rsfs_reload
    tree_manifest "$M/t" >/tmp/tree.after
    diff /tmp/tree.before /tmp/tree.after || fail "tree changed across rmmod/insmod"
    drop_caches
    tree_manifest "$M/t" >/tmp/tree.after
    diff /tmp/tree.before /tmp/tree.after || fail "tree changed after dropping caches"
}

suite() {
    rsfs_test create-unlink test_create_unlink
    rsfs_test mkdir-rmdir test_mkdir_rmdir
    rsfs_test rename test_rename
    rsfs_test rename-noreplace test_rename_noreplace
    rsfs_test rename-exchange test_rename_exchange
    rsfs_test link test_link
    rsfs_test symlink test_symlink
    rsfs_test special-files test_special_files
    rsfs_test readdir test_readdir
    rsfs_test name-errors test_name_errors
    rsfs_test attributes-persist test_attributes_persist
    rsfs_test permissions test_permissions
    rsfs_test --mkfs "-N 10240" many-files test_many_files
    rsfs_test tree-persists test_tree_persists
}

# Directories, names, links, attributes: all metadata, written through
# the buffer cache the same way in either writeback mode.
rsfs_for_each_mode --any-mode suite
