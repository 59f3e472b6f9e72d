# shellcheck shell=bash
# Helpers for the rsfs suites (tests/rsfs/*.sh), run inside the VM.
#
# Every rsfs test runs through `rsfs_test NAME FUNCTION [ARGS...]`, which
# reports `rsfs NAME writeback=<mode>` and wraps the test:
#
#   before: rsnull loaded (memory-backed, $RSFS_DEV_MB MiB, 4 KiB blocks),
#           rsfs.ko loaded with writeback=<mode> (checked in sysfs),
#           a fresh mkfs.rsfs, mounted on $RSFS_MNT;
#   after:  unmounted, and `fsck.rsfs -n` must exit 0, whatever the test did.
#
# A suite calls `rsfs_for_each_mode FUNCTION`, which runs FUNCTION (the one
# that calls rsfs_test for each case) once per mode in
# $RSFS_WRITEBACK_MODES (default "folio iomap"), after a `rsfs load` test
# that (re)loads the module with that mode. A suite whose tests do not
# depend on the writeback mode says `rsfs_for_each_mode --any-mode`, and
# runs in the first mode only (RSFS_EVERY_MODE=1: in every mode).
#
# The userspace tools come from the checkout (the VM shares the host's file
# system): tests/run.sh builds them with `cargo build --release` before the
# boot.

# shellcheck source-path=SCRIPTDIR
# shellcheck source=ktap.sh
. "$(dirname "${BASH_SOURCE[0]}")/ktap.sh"
# shellcheck source=modules.sh
. "$(dirname "${BASH_SOURCE[0]}")/modules.sh"

RSFS_KO=${RSFS_KO:-$RSFS_TOP/rsfs.ko}
RSFS_BIN=${RSFS_BIN:-$RSFS_TOP/tools/target/release}
MKFS_RSFS=$RSFS_BIN/mkfs.rsfs
FSCK_RSFS=$RSFS_BIN/fsck.rsfs
TU=$RSFS_BIN/rsfs-testutil
RSFS_DEV=${RSFS_DEV:-/dev/rsnull0}
RSFS_MNT=${RSFS_MNT:-/tmp/rsfs-mnt}
# 96 MiB: 24576 blocks, less than a bitmap block's 32768 bits, so a
# superblock can claim more blocks than the device within its own bitmap
# (the too-big corruption). Small, because every test runs mkfs and fsck,
# whose time grows with the inode table (one inode per 16 KiB). rsnull only
# allocates memory for what is written.
RSFS_DEV_MB=${RSFS_DEV_MB:-96}
RSFS_WRITEBACK_MODES=${RSFS_WRITEBACK_MODES:-folio iomap}
# The mode of the tests being run (set by rsfs_for_each_mode).
RSFS_MODE=${RSFS_MODE:-folio}
# The mount point, short, for the suites.
# shellcheck disable=SC2034
M=$RSFS_MNT
export TZ=UTC

# ---- modules and device --------------------------------------------------

# The per-test helpers below use shell builtins where they can: under TCG
# with the debug kernel an exec costs 0.1-0.6 s (Documentation/testing.md), and they run
# around every one of the ~180 rsfs tests.

# read_sysfs FILE: FILE's first line in $REPLY ("" if unreadable).
read_sysfs() {
    REPLY=""
    { read -r REPLY <"$1"; } 2>/dev/null || true
}

rsfs_loaded_mode() { read_sysfs /sys/module/rsfs/parameters/writeback; echo "$REPLY"; }

# The suites' disk is a configfs rsnull device, so that a test can give it
# bad blocks, errors or a power cut: $RSFS_CFS, /dev/rsnull0.
RSFS_CFS=$RSNULL_CFS/rsfs

# rsfs_dev_ready: the suites' disk exists, powered, with no faults armed
# and no volatile cache (made anew if not).
rsfs_dev_ready() {
    local power bad cache
    read_sysfs "$RSFS_CFS/power"; power=$REPLY
    read_sysfs "$RSFS_CFS/badblocks"; bad=$REPLY
    read_sysfs "$RSFS_CFS/cache_size"; cache=$REPLY
    if [ "$power" = 1 ] && [ -z "$bad" ] && [ "$cache" = 0 ] && [ -b "$RSFS_DEV" ]; then
        return 0
    fi
    rsfs_umount
    rsnull_unload
    rsnull_cfs_new rsfs size="$RSFS_DEV_MB" blocksize=4096 index=0
    [ "$RSNULL_DEV" = "$RSFS_DEV" ] || fail "the suites' disk is $RSNULL_DEV, not $RSFS_DEV"
}

# rsfs_load MODE: (re)load rsfs.ko with writeback=MODE and check sysfs says so.
rsfs_load() {
    local mode=$1
    rsfs_umount
    if module_loaded rsfs; then rmmod rsfs; fi
    [ -f "$RSFS_KO" ] || fail "$RSFS_KO is not built"
    insmod "$RSFS_KO" writeback="$mode" || fail "insmod rsfs.ko writeback=$mode failed"
    assert_eq "$(rsfs_loaded_mode)" "$mode" "/sys/module/rsfs/parameters/writeback"
    grep -qw rsfs /proc/filesystems || fail "rsfs is not in /proc/filesystems"
}

# rsfs_ensure_loaded: rsfs.ko loaded with writeback=$RSFS_MODE.
rsfs_ensure_loaded() {
    read_sysfs /sys/module/rsfs/parameters/writeback
    [ "$REPLY" = "$RSFS_MODE" ] || rsfs_load "$RSFS_MODE"
}

rsfs_unload() {
    rsfs_umount
    if module_loaded rsfs; then rmmod rsfs; fi
}

# ---- mkfs, mount, fsck ----------------------------------------------------

# rsfs_mkfs [--size SIZE] [mkfs.rsfs options]: a new filesystem on the
# device, of SIZE (blocks, or with K/M/G) if given, else the whole device.
rsfs_mkfs() {
    local size=()
    if [ "${1:-}" = --size ]; then size=("$2"); shift 2; fi
    "$MKFS_RSFS" -q -f "$@" "$RSFS_DEV" "${size[@]}" || fail "mkfs.rsfs $* failed"
}

# rsfs_mount: mount the device on $RSFS_MNT.
rsfs_mount() {
    [ -d "$RSFS_MNT" ] || mkdir -p "$RSFS_MNT"
    mount -t rsfs "$RSFS_DEV" "$RSFS_MNT" || fail "mount -t rsfs failed"
}

# rsfs_mount_with OPTIONS: the same with -o OPTIONS.
rsfs_mount_with() {
    mkdir -p "$RSFS_MNT"
    mount -t rsfs -o "$1" "$RSFS_DEV" "$RSFS_MNT" || fail "mount -t rsfs -o $1 failed"
}

# rsfs_mounted: something is mounted on $RSFS_MNT. One `read` of the whole
# table: a loop of builtins over its ~70 lines costs more than an exec.
rsfs_mounted() {
    local mounts
    read -r -d '' mounts </proc/self/mounts || true
    [[ $mounts == *" $RSFS_MNT "* ]]
}

# rsfs_umount: unmount if mounted.
rsfs_umount() {
    if rsfs_mounted; then umount "$RSFS_MNT" || fail "umount $RSFS_MNT failed"; fi
}

# rsfs_remount: unmount and mount again (everything must come back from disk).
rsfs_remount() {
    rsfs_umount
    rsfs_mount
}

# rsfs_reload: unmount, rmmod and insmod rsfs (same mode), mount again:
# nothing cached by the module survives.
rsfs_reload() {
    rsfs_umount
    rmmod rsfs || fail "rmmod rsfs failed"
    rsfs_load "$RSFS_MODE"
    rsfs_mount
}

# rsfs_fresh [--size SIZE] [mkfs options]: unmount, mkfs, mount.
rsfs_fresh() {
    rsfs_umount
    rsfs_mkfs "$@"
    rsfs_mount
}

# rsfs_fsck_clean: unmount if needed; `fsck.rsfs -n` must exit 0.
rsfs_fsck_clean() {
    local out=/tmp/rsfs-fsck.out rc=0
    rsfs_umount
    "$FSCK_RSFS" -n "$RSFS_DEV" >"$out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        head -40 "$out" | sed 's/^/fsck: /'
        fail "fsck.rsfs -n exited $rc"
    fi
}

# rsfs_sb FIELD: a superblock field (see `rsfs-testutil sb-info`); unmounted.
rsfs_sb() {
    "$TU" sb-info "$RSFS_DEV" | sed -n "s/^$1=//p"
}

# ---- statfs -----------------------------------------------------------------

# The mounted filesystem's statfs fields.
rsfs_bsize() { stat -f -c %S "$RSFS_MNT"; }
rsfs_blocks() { stat -f -c %b "$RSFS_MNT"; }
rsfs_bfree() { stat -f -c %f "$RSFS_MNT"; }
rsfs_bavail() { stat -f -c %a "$RSFS_MNT"; }
rsfs_files() { stat -f -c %c "$RSFS_MNT"; }
rsfs_ffree() { stat -f -c %d "$RSFS_MNT"; }

# keep_root_block: a file in the root, so that the root directory has its
# first block before a test takes a baseline of free blocks (a new root
# has none, and a directory may keep its blocks when emptied).
keep_root_block() { : >"$RSFS_MNT/keep"; }

# rsfs_bfree_synced: free blocks after everything is written back.
rsfs_bfree_synced() { sync -f "$RSFS_MNT"; rsfs_bfree; }

# ---- checks -------------------------------------------------------------

# klog_mark, then klog_since_mark: the kernel log lines logged in between.
# (Tests must not `dmesg -c`: the harness checks every line for reports.)
klog_mark() {
    RSFS_KLOG_MARK="rsfs-test-mark-$$-$RANDOM$RANDOM"
    echo "$RSFS_KLOG_MARK" >/dev/kmsg
}
klog_since_mark() {
    dmesg | sed -n "/$RSFS_KLOG_MARK/,\$p" | tail -n +2
}

# expect_errno ERRNO CMD...: CMD must fail, and say ERRNO (by name, as
# rsfs-testutil does, or by the C library's text, as coreutils do).
expect_errno() {
    local want=$1 text out; shift
    text=$(errno_text "$want")
    if out=$("$@" 2>&1); then
        fail "expected $want, but succeeded: $*"
    fi
    if [[ $out != *"$want"* && $out != *"$text"* ]]; then
        fail "expected $want ($text): $*: got: $out"
    fi
}

errno_text() {
    case $1 in
    EPERM) echo "Operation not permitted" ;;
    ENOENT) echo "No such file or directory" ;;
    EIO) echo "Input/output error" ;;
    EACCES) echo "Permission denied" ;;
    EBUSY) echo "Device or resource busy" ;;
    EEXIST) echo "File exists" ;;
    ENOTDIR) echo "Not a directory" ;;
    EISDIR) echo "Is a directory" ;;
    EINVAL) echo "Invalid argument" ;;
    ENOSPC) echo "No space left on device" ;;
    EROFS) echo "Read-only file system" ;;
    EMLINK) echo "Too many links" ;;
    ENAMETOOLONG) echo "File name too long" ;;
    ENOTEMPTY) echo "Directory not empty" ;;
    ELOOP) echo "Too many levels of symbolic links" ;;
    *) echo "$1" ;;
    esac
}

# assert_ge A B WHAT / assert_le A B WHAT: numeric comparisons.
assert_ge() { [ "$1" -ge "$2" ] || fail "$3: $1 < $2"; }
assert_le() { [ "$1" -le "$2" ] || fail "$3: $1 > $2"; }

# ---- checksums ----------------------------------------------------------

# tree_manifest DIR: one line per entry under DIR (path, type, mode, owner,
# links, size, symlink target, mtime) and a sha256 per regular file, sorted.
# Two manifests compare equal iff the trees are the same.
tree_manifest() {
    (
        cd "$1"
        find . -mindepth 1 -printf '%p %y %m %U:%G %n %s %l %T@\n' | sort
        find . -type f -print0 | sort -z | xargs -0 -r sha256sum
    )
}

# file_sum FILE: the sha256 of a file.
file_sum() { sha256sum <"$1" | cut -d' ' -f1; }

# dev_sum BYTES: sha256 of the first BYTES of the device, read from the
# device itself (dirty cached blocks are written and the cache dropped first).
dev_sum() {
    blockdev --flushbufs "$RSFS_DEV"
    head -c "$1" "$RSFS_DEV" | sha256sum | cut -d' ' -f1
}

# drop_caches: clean page cache, dentries and inodes are dropped, so reads
# come from the device (dirty data is written first by sync).
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# ---- the per-test wrapper -----------------------------------------------

# rsfs_setup [mkfs arguments]: the device, the module, a fresh filesystem
# (made with the arguments, as rsfs_mkfs takes them), mounted.
rsfs_setup() {
    cd /tmp
    rsfs_dev_ready
    rsfs_ensure_loaded
    rsfs_umount
    rsfs_mkfs "$@"
    rsfs_mount
}

# Unmount even after a failed test left processes in the filesystem.
rsfs_force_umount() {
    rsfs_mounted || return 0
    umount "$RSFS_MNT" 2>/dev/null && return 0
    fuser -k -m "$RSFS_MNT" >/dev/null 2>&1 || true
    sleep 1
    umount "$RSFS_MNT" 2>/dev/null && return 0
    echo "# $RSFS_MNT still busy; lazy unmount" >&2
    umount -l "$RSFS_MNT"
    return 1
}

# rsfs_run [--mkfs "ARGS"] FUNCTION [ARGS...]: setup (mkfs with ARGS), the
# test, then umount + fsck -n clean.
rsfs_run() {
    local rc mkfs_args=()
    if [ "$1" = --mkfs ]; then read -ra mkfs_args <<<"$2"; shift 2; fi
    rsfs_setup "${mkfs_args[@]}"
    set +e
    (set -eE -o pipefail; "$@")
    rc=$?
    set -e
    cd /tmp
    if [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP_RC" ]; then
        # Report fsck's view of the wreckage too, but the test's failure stands.
        rsfs_force_umount || true
        ( rsfs_fsck_clean ) || true
        return "$rc"
    fi
    rsfs_umount
    rsfs_fsck_clean
    return "$rc"
}

# rsfs_test [--mkfs "ARGS"] NAME FUNCTION [ARGS...]: one test, named with
# the mode, on a filesystem made by `rsfs_mkfs ARGS` (default: the whole
# device, mkfs.rsfs's defaults).
rsfs_test() {
    local mkfs=()
    if [ "$1" = --mkfs ]; then mkfs=(--mkfs "$2"); shift 2; fi
    local name=$1; shift
    ktap_test "rsfs $name writeback=$RSFS_MODE" rsfs_run "${mkfs[@]}" "$@"
}

# The `rsfs load` test: insmod with the mode; a bad mode must be refused.
rsfs_load_test() {
    local mode=$1
    [ -f "$RSFS_KO" ] || fail "$RSFS_KO is not built"
    modinfo -p "$RSFS_KO" | grep -q '^writeback:.\+' || fail "modinfo has no description for writeback"
    rsfs_dev_ready
    rsfs_unload
    klog_mark
    if insmod "$RSFS_KO" writeback=bogus 2>/dev/null; then
        rmmod rsfs
        fail "insmod rsfs writeback=bogus succeeded"
    fi
    ! module_loaded rsfs || fail "rsfs stayed loaded after a failed insmod"
    klog_since_mark | grep -q rsfs || fail "no kernel message explains why writeback=bogus was refused"
    klog_since_mark | grep rsfs | tail -2
    rsfs_load "$mode"
}

# rsfs_for_each_mode [--any-mode] FUNCTION: run the suite's FUNCTION once
# per mode. --any-mode: the suite's outcome does not depend on how file
# data is written back (names, mount options, the superblock), so it runs
# in the first mode only, unless RSFS_EVERY_MODE=1.
rsfs_for_each_mode() {
    local mode modes=$RSFS_WRITEBACK_MODES
    if [ "$1" = --any-mode ]; then
        shift
        [ "${RSFS_EVERY_MODE:-}" = 1 ] || modes=${modes%% *}
    fi
    for mode in $modes; do
        RSFS_MODE=$mode
        ktap_test "rsfs load writeback=$mode" rsfs_load_test "$mode"
        "$@"
    done
    ( rsfs_force_umount; rsfs_unload; rsnull_unload ) >/dev/null 2>&1 || true
}
