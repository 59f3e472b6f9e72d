#!/usr/bin/env bash
# rsfs: crafted images. A base filesystem the kernel populated with every
# structure of the format, then image after image with one metadata
# structure damaged by `rsfs-fuzz mutate` (checksums recomputed, so only
# the meaning is wrong), each written to the device, checked with
# `fsck.rsfs -n`, mounted and used by `rsfs-fuzz exercise` (walk and read
# everything, create, write, append, truncate, link, rename, unlink, mkdir,
# rmdir, syncfs), unmounted.
#
# What must hold for every image:
#   - the kernel log stays clean (the harness checks it after each batch;
#     a report is traced back to the image it followed);
#   - nothing hangs (an operation taking longer than $RSFS_IMAGES_TIMEOUT
#     seconds fails the batch), and the unmount succeeds;
#   - fsck.rsfs -n exits 0 or 4, never crashes;
#   - what fsck calls clean works: the mount succeeds (read-only is right
#     for unknown read-only features), every operation succeeds, and fsck
#     still calls it clean afterwards.
# A damaged image may be refused at mount, and its operations may fail
# (EUCLEAN, EIO, ENOSPC, ...): that is what they are for.
#
#   RSFS_IMAGES=N         images per writeback mode (default 200, in
#                         batches of 10: one test each)
#   RSFS_IMAGES_SEED=S    first seed (default 1); seeds S .. S+N-1
#   RSFS_IMAGES_SHARE=I/N this VM runs the I-th (from 0) of N equal parts
#                         of the seeds (tests/run.sh splits them over its
#                         two VMs)
#   RSFS_IMAGES_TIMEOUT=SEC  longest one operation may take (default 120)
#
# A failure names the seed and the mutation. The base image is kept as
# $KTAP_LOGDIR/rsfs-images-base.img and every image's outcome in
# $KTAP_LOGDIR/rsfs-images.log; `rsfs-fuzz mutate --seed S BASE OUT`
# remakes image S from it.
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

RSFS_IMAGES=${RSFS_IMAGES:-200}
RSFS_IMAGES_SEED=${RSFS_IMAGES_SEED:-1}
RSFS_IMAGES_TIMEOUT=${RSFS_IMAGES_TIMEOUT:-120}
IMAGES_BATCH=10
IMG_DIR=/tmp/rsfs-images
BASE=$IMG_DIR/base.img
RESULTS=$IMG_DIR/results
IMAGES_LOG=$KTAP_LOGDIR/rsfs-images.log

# rsfs-fuzz runs three times per image: from the guest's /tmp, like the
# other tools (tests/guest-run.sh copies those it knows to $RSFS_BIN).
FUZZ=$RSFS_BIN/rsfs-fuzz
if [ ! -x "$FUZZ" ] && [ -x "$RSFS_TOP/tools/target/release/rsfs-fuzz" ]; then
    mkdir -p /tmp/rsfs-images-bin
    cp "$RSFS_TOP/tools/target/release/rsfs-fuzz" /tmp/rsfs-images-bin/
    FUZZ=/tmp/rsfs-images-bin/rsfs-fuzz
fi

# images_test NAME FUNCTION [ARGS...]: one test of this suite, reported as
# `rsfs images-NAME writeback=MODE`. Not rsfs_test: there is no fresh
# mkfs before (the images are the filesystems) and no `fsck -n` after (the
# device holds the last crafted image). Before: the device ready, the
# module loaded, nothing mounted; after: nothing mounted.
images_test() {
    local name=$1; shift
    ktap_test "rsfs images-$name writeback=$RSFS_MODE" images_run "$@"
}

images_run() {
    local rc
    cd /tmp
    rsfs_dev_ready
    rsfs_ensure_loaded
    rsfs_umount
    set +e
    (set -eE -o pipefail; "$@")
    rc=$?
    set -e
    cd /tmp
    rsfs_force_umount || rc=1
    return "$rc"
}

# The base image's contents, made by the kernel: nested and empty
# directories, a directory of three blocks (40 names of 201 bytes), a file
# of 270 one-block extents (every other block written: 8 inline, 253 and 9
# in two overflow blocks), a contiguous and a sparse file, short and long
# symlinks, a hard link, a FIFO and a device node.
images_populate() {
    local i args=() long names=()
    mkdir -p "$M/a/b/c" "$M/empty" "$M/many"
    echo "hello, rsfs" >"$M/small"
    "$TU" pwrite "$M/a/medium" 0 40K 2
    for ((i = 0; i < 270; i++)); do args+=("$((i * 8))K" 4K "$((i + 1))"); done
    "$TU" pwrite "$M/frag" "${args[@]}"
    "$TU" pwrite "$M/a/b/sparse" 0 4K 3 64K 4K 4
    truncate -s 200K "$M/a/b/sparse"
    ln -s a/b "$M/short-link"
    printf -v long 'x%.0s' {1..300}
    ln -s "$long" "$M/a/long-link"
    ln "$M/small" "$M/a/small-link"
    mkfifo "$M/a/fifo"
    mknod "$M/a/null" c 1 3
    printf -v long 'n%.0s' {1..197}
    for ((i = 0; i < 40; i++)); do names+=("$(printf '%s/%03d-%s' "$M/many" "$i" "$long")"); done
    touch "${names[@]}"
}

# The base image: a 4 MiB filesystem, populated, clean; rsfs-fuzz finds
# every structure in it; the operations work on it and leave it clean.
test_images_base() {
    local kv rc=0
    [ -x "$FUZZ" ] || fail "rsfs-fuzz is not built (cd tools && cargo build --release)"
    rm -rf "$IMG_DIR"
    mkdir -p "$IMG_DIR"
    : >"$RESULTS"
    rsfs_mkfs --size 4M -N 128 -J 16
    rsfs_mount
    images_populate
    rsfs_umount
    rsfs_fsck_clean
    dd if="$RSFS_DEV" of="$BASE" bs=4096 count=1024 iflag=direct status=none
    "$FUZZ" describe "$BASE" | tee "$IMG_DIR/describe"
    local max_chain=0 long_symlinks=0 max_dir_blocks=0 special=0 max_extents=0
    for kv in $(<"$IMG_DIR/describe"); do
        case ${kv%%=*} in
        max_chain | long_symlinks | max_dir_blocks | special | max_extents) printf -v "${kv%%=*}" %s "${kv#*=}" ;;
        esac
    done
    assert_ge "$max_chain" 2 "overflow blocks of the fragmented file"
    assert_ge "$max_extents" 262 "extents of the fragmented file"
    assert_ge "$max_dir_blocks" 3 "blocks of the largest directory"
    assert_ge "$long_symlinks" 1 "long symlinks"
    assert_ge "$special" 2 "FIFOs and devices"
    cp "$BASE" "$KTAP_LOGDIR/rsfs-images-base.img" 2>/dev/null || true
    echo "# base $(<"$IMG_DIR/describe")" >"$IMAGES_LOG"
    "$FUZZ" exercise --timeout "$RSFS_IMAGES_TIMEOUT" "$RSFS_DEV" "$M" || rc=$?
    assert_eq "$rc" 0 "rsfs-fuzz exercise on the untouched base image"
    rsfs_fsck_clean
}

# image_one SEED: one crafted image, from writing it to unmounting it.
# Problems that leave the image's outcome in doubt go to IMAGES_BAD;
# a hang or a failed unmount ends the batch at once.
image_one() {
    local seed=$1 desc fsck_rc=0 rc=0 line summary="" fails=() euclean=0 again=0
    "$FUZZ" mutate --seed "$seed" "$BASE" "$RSFS_DEV" >"$IMG_DIR/mutate.out" ||
        fail "rsfs-fuzz mutate --seed $seed failed"
    read -r desc <"$IMG_DIR/mutate.out"
    # Where each image starts, in the kernel log (what a report follows).
    echo "rsfs-images: ${desc:0:600}" >/dev/kmsg || true
    echo "== $desc"
    "$FSCK_RSFS" -n "$RSFS_DEV" >"$IMG_DIR/fsck.out" 2>&1 || fsck_rc=$?
    case $fsck_rc in
    0 | 4) ;;
    *)
        head -20 "$IMG_DIR/fsck.out"
        IMAGES_BAD+=("$desc: fsck.rsfs -n exited $fsck_rc (not 0 or 4)")
        ;;
    esac
    "$FUZZ" exercise --timeout "$RSFS_IMAGES_TIMEOUT" "$RSFS_DEV" "$M" >"$IMG_DIR/exercise.out" 2>&1 || rc=$?
    while IFS= read -r line; do
        case $line in
        summary*) summary=$line ;;
        fail*) fails+=("$line") ;;
        esac
    done <"$IMG_DIR/exercise.out"
    [[ $summary =~ euclean=([0-9]+) ]] && euclean=${BASH_REMATCH[1]}
    echo "fsck=$fsck_rc exercise=$rc $summary"
    printf 'seed=%s fsck=%s exercise=%s %s\n  %s\n' "$seed" "$fsck_rc" "$rc" "$summary" "$desc" >>"$IMAGES_LOG"
    echo "$seed $fsck_rc $rc $euclean" >>"$RESULTS"
    case $rc in
    0 | 1 | 2) ;;
    3) fail "$desc: the unmount failed: $summary" ;;
    5) fail "$desc: an operation hung for ${RSFS_IMAGES_TIMEOUT} s: $summary" ;;
    *) cat "$IMG_DIR/exercise.out"; fail "$desc: rsfs-fuzz exercise exited $rc" ;;
    esac
    ! rsfs_mounted || fail "$desc: still mounted after rsfs-fuzz exercise"
    [ "$fsck_rc" = 0 ] || return 0
    # fsck passes it: it must work, and still pass afterwards.
    if [ "$rc" != 0 ]; then
        [ ${#fails[@]} -eq 0 ] || printf '  %s\n' "${fails[@]:0:10}"
        IMAGES_BAD+=("$desc: fsck.rsfs -n passes it, but: $summary")
        return 0
    fi
    "$FSCK_RSFS" -n "$RSFS_DEV" >"$IMG_DIR/fsck.out" 2>&1 || again=$?
    if [ "$again" != 0 ]; then
        head -20 "$IMG_DIR/fsck.out"
        IMAGES_BAD+=("$desc: clean before the operations, fsck.rsfs -n exits $again after them")
    fi
}

# A kernel report (BUG, WARNING, lockdep, ...) in this batch's log, traced
# to the image whose line precedes it. (The harness fails the test for the
# report itself; this names the seed.)
images_klog_check() {
    local line last="" log
    log=$(dmesg 2>/dev/null) || true
    while IFS= read -r line; do
        case $line in *"rsfs-images: seed "*) last=${line#*rsfs-images: } ;; esac
        if [[ $line =~ $KTAP_KLOG_BAD ]]; then
            IMAGES_BAD+=("kernel report after ${last:-the batch started}: $line")
            return 0
        fi
    done <<<"$log"
}

# Seeds FIRST..LAST.
test_images_batch() {
    local first=$1 last=$2 seed
    [ -s "$BASE" ] || fail "no base image (the images-base test failed)"
    IMAGES_BAD=()
    for ((seed = first; seed <= last; seed++)); do
        image_one "$seed"
    done
    images_klog_check
    if [ ${#IMAGES_BAD[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${IMAGES_BAD[@]}"
        fail "${#IMAGES_BAD[@]} problem(s) in seeds $first-$last: ${IMAGES_BAD[0]}"
    fi
}

# The counts, as KTAP diagnostics.
images_summary() {
    [ -s "$RESULTS" ] || return 0
    awk -v mode="$RSFS_MODE" '
        { n++; if ($2 != 0) flagged++; if ($3 == 2) refused++
          if ($3 == 1 && $4 > 0) euclean++; if ($3 == 1 && $4 == 0) other++
          if ($3 == 0) { worked++; if ($2 == 0) clean++ } }
        END {
          printf "# images writeback=%s: %d crafted, fsck.rsfs -n flagged %d; refused at mount %d, ", mode, n, flagged, refused
          printf "EUCLEAN from an operation %d, other errors only %d, mounted and every operation worked %d (%d fsck-clean)\n", euclean, other, worked, clean
        }' "$RESULTS"
}

suite() {
    local first last end start=$RSFS_IMAGES_SEED share part parts
    images_test base test_images_base
    end=$((RSFS_IMAGES_SEED + RSFS_IMAGES - 1))
    # RSFS_IMAGES_SHARE=I/N (tests/run.sh, when both VMs run this suite):
    # this VM takes the I-th of N equal runs of the seeds.
    share=${RSFS_IMAGES_SHARE:-0/1}
    part=${share%/*} parts=${share#*/}
    if [ "$parts" -gt 1 ]; then
        start=$((RSFS_IMAGES_SEED + part * RSFS_IMAGES / parts))
        end=$((RSFS_IMAGES_SEED + (part + 1) * RSFS_IMAGES / parts - 1))
        echo "# images: seeds $start-$end (share $share of $RSFS_IMAGES)"
    fi
    for ((first = start; first <= end; first += IMAGES_BATCH)); do
        last=$((first + IMAGES_BATCH - 1))
        [ "$last" -le "$end" ] || last=$end
        images_test "$first-$last" test_images_batch "$first" "$last"
    done
    images_summary
}

# Metadata is what is crafted: the first writeback mode (every mode with
# RSFS_EVERY_MODE=1).
rsfs_for_each_mode --any-mode suite
