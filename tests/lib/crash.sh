# shellcheck shell=bash
# Power cuts under rsfs (and ext4, the reference), for tests/rsfs/crash.sh.
#
# The disk is a configfs rsnull device of its own ("crash", 64 MiB, 4 KiB
# blocks) with a 4 MiB volatile write cache and FUA: what was not flushed
# is lost at a cut. A workload (rsfs-testutil fsx, many-writers,
# namespace, fragmented-append, seq) runs in a directory of the mounted
# filesystem and writes its acknowledgement log to $CRASH_LOGS (the
# guest's /tmp, which no cut touches). One round:
#
#   arm crash_random (the cut comes within the next 1..$CRASH_SPAN writes,
#   discards and flushes) -> run the workload (it stops at the cut's first
#   EIO/EROFS; if it finished first, cut the power now) -> umount ->
#   power on -> mount (the log replay) -> umount -> fsck -n must pass ->
#   mount -> the workload's verifier against its log (with a snapshot of
#   the directory) -> the next round, on the same filesystem.
#
# The filesystem is made once per workload, so later rounds run on what
# earlier cuts and replays left. At the end every round's directory must
# still be as its snapshot (tree-check): a replay or checkpoint that writes
# over old data is caught even if its round passed.
#
# Cut N of workload W under seed S is reproduced by
#   RSFS_CRASH_SEED=S RSFS_CRASH_ONLY=W:N tests/run.sh tests/rsfs/crash.sh
# which runs W's rounds 1..N (the same seeds, crash points and writeback
# modes, on a filesystem the earlier rounds shaped the same way, as far as
# background writeback timing allows). Every round's line and failure say so.

# shellcheck source-path=SCRIPTDIR
# (tests/lib/rsfs.sh is sourced first: ktap.sh, modules.sh, $TU, $FSCK_RSFS.)

CRASH_NAME=crash
CRASH_CFS=$RSNULL_CFS/$CRASH_NAME
CRASH_MNT=/tmp/rsfs-crash-mnt
CRASH_LOGS=/tmp/rsfs-crash
# Small: mkfs, mount and fsck of a 64 MiB filesystem each take about half
# a second under TCG, and every cut costs two mounts, two unmounts and an fsck.
CRASH_MB=64
# The sequences' filesystem: its image is written back before each crash
# point (16 MiB: the dd is quick).
CRASH_SEQ_MB=16
CRASH_SPAN=${RSFS_CRASH_SPAN:-300}
CRASH_ONLY=${RSFS_CRASH_ONLY:-}
# One seed for the whole suite, chosen once (every round's seeds derive
# from it and the round's name and number).
CRASH_SEED=${RSFS_CRASH_SEED:-$(( (RANDOM << 30 | RANDOM << 15 | RANDOM) % 1000000000 ))}

# The workloads' sizes: large enough that the cut nearly always comes
# first (each syncs often; a cut lands within $CRASH_SPAN device writes).
crash_size() {
    case $1 in
    fsx) echo 3000 ;;              # ops on 4 files of up to 256 KiB
    many-writers) echo 40 ;;       # files per writer, 3 writers, up to 48 KiB each
    namespace) echo 2000 ;;        # ops
    fragmented-append) echo 1000 ;; # appends to a (and b)
    esac
}

# ---- filter and reproduction -------------------------------------------

# crash_selected TAG: RSFS_CRASH_ONLY (comma-separated TAG or TAG:N; a
# prefix before '-' selects a family: seq, ext4) selects TAG.
crash_selected() {
    local item t
    [ -z "$CRASH_ONLY" ] && return 0
    for item in ${CRASH_ONLY//,/ }; do
        t=${item%%:*}
        if [ "$t" = "$1" ] || [[ $1 == "$t"-* ]]; then return 0; fi
    done
    return 1
}

# crash_only_cut TAG: the N of a TAG:N item, or nothing (and status 0
# either way: callers assign it under set -e).
crash_only_cut() {
    local item
    for item in ${CRASH_ONLY//,/ }; do
        [[ $item == "$1":* ]] && { echo "${item#*:}"; return 0; }
    done
    return 0
}

# crash_repro TAG:N: the command that runs this round again.
crash_repro() {
    local env="RSFS_CRASH_SEED=$CRASH_SEED RSFS_CRASH_ONLY=$1 RSFS_WRITEBACK_MODES=$RSFS_MODE"
    [ -z "${RSFS_CRASH_SPAN:-}" ] || env+=" RSFS_CRASH_SPAN=$RSFS_CRASH_SPAN"
    echo "$env tests/run.sh tests/rsfs/crash.sh"
}

# crash_fail TAG N WHAT: fail, naming the round and how to reproduce it;
# the round's log goes to the results directory.
crash_fail() {
    local tag=$1 n=$2; shift 2
    [ -f "$CRASH_LOGS/$tag.$n.log" ] && cp "$CRASH_LOGS/$tag.$n.log" "$KTAP_LOGDIR/crash-$tag.$n.log" 2>/dev/null
    fail "$tag cut $n (seed $CRASH_SEED): $*; log kept as crash-$tag.$n.log; reproduce: $(crash_repro "$tag:$n")"
}

# crash_seed TAG N: round N's seed (builtins only).
crash_seed() {
    local h=$CRASH_SEED i c
    for (( i = 0; i < ${#1}; i++ )); do
        printf -v c '%d' "'${1:i:1}"
        h=$(( (h * 31 + c) & 0xffffffffffff ))
    done
    # SplitMix64's finaliser: nearby rounds get unrelated seeds (rsnull's
    # xorshift takes them as they are).
    local x=$(( (h * 1000003 + $2 * 7919 + 1) & 0x7fffffffffffffff ))
    x=$(( ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & 0x7fffffffffffffff ))
    x=$(( ((x ^ (x >> 27)) * 0x94d049bb133111eb) & 0x7fffffffffffffff ))
    echo $(( (x ^ (x >> 31)) & 0x7fffffffffff ))
}

# crash_mode N: round N's writeback mode (they alternate, starting with the
# module's: RSFS_WRITEBACK_MODES=iomap starts with iomap).
crash_mode() {
    local other=iomap
    [ "$RSFS_MODE" = iomap ] && other=folio
    if (( $1 % 2 )); then echo "$RSFS_MODE"; else echo "$other"; fi
}

# ---- the device and the filesystem ----------------------------------------

crash_mounted() {
    local mounts
    read -r -d '' mounts </proc/self/mounts || true
    [[ $mounts == *" $CRASH_MNT "* ]]
}

# crash_cleanup: nothing of ours mounted, no crash device (a failed test
# may have left both).
crash_cleanup() {
    if crash_mounted; then umount "$CRASH_MNT" 2>/dev/null || umount -l "$CRASH_MNT"; fi
    [ -d "$CRASH_CFS" ] && rsnull_cfs_rm "$CRASH_NAME"
    return 0
}

# crash_setup: a fresh crash device and log directory; cleaned up when the
# test's subshell exits, whatever happened.
crash_setup() {
    crash_cleanup
    trap crash_cleanup EXIT
    rm -rf "$CRASH_LOGS"
    mkdir -p "$CRASH_LOGS" "$CRASH_MNT"
    rsnull_cfs_new "$CRASH_NAME" size=$CRASH_MB blocksize=4096 cache_size=4 fua=1 random_seed=$(( CRASH_SEED + 1 ))
    echo "# RSFS_CRASH_SEED=$CRASH_SEED; device $RSNULL_DEV"
}

# crash_mkfs FS [SIZE_MB]
crash_mkfs() {
    local size=${2:-$CRASH_MB}
    case $1 in
    rsfs) "$MKFS_RSFS" -q -f "$RSNULL_DEV" "${size}M" || fail "mkfs.rsfs failed" ;;
    # 4 KiB blocks (mkfs.ext4 picks 1 KiB for small devices; the disk's
    # logical block is 4 KiB anyway).
    ext4) mkfs.ext4 -q -F -b 4096 "$RSNULL_DEV" "${size}M" || fail "mkfs.ext4 failed" ;;
    esac
}

# crash_mount FS MODE: mount on $CRASH_MNT (rsfs with -o writeback=MODE).
crash_mount() {
    case $1 in
    rsfs) mount -t rsfs -o "writeback=$2" "$RSNULL_DEV" "$CRASH_MNT" ;;
    ext4) mount -t ext4 "$RSNULL_DEV" "$CRASH_MNT" ;;
    esac
}

# crash_fsck FS: the unmounted filesystem checks clean (its report in $REPLY).
crash_fsck() {
    local out=$CRASH_LOGS/fsck.out rc=0
    case $1 in
    rsfs) "$FSCK_RSFS" -n "$RSNULL_DEV" >"$out" 2>&1 || rc=$? ;;
    ext4) e2fsck -fn "$RSNULL_DEV" >"$out" 2>&1 || rc=$? ;;
    esac
    REPLY="exit $rc: $(head -30 "$out")"
    return "$rc"
}

# crash_cut: cut the power if the crash point has not (the workload
# finished, or stopped, first); then unmount whatever the cut left.
# Sets CUT_HOW.
crash_cut() {
    local power
    read -r power <"$CRASH_CFS/power"
    if [ "$power" = 1 ]; then
        echo 0 >"$CRASH_CFS/crash_after_writes"
        echo 0 >"$CRASH_CFS/power"
        CUT_HOW="no cut during the workload: cut after it"
    else
        CUT_HOW="cut by the crash point"
    fi
    umount "$CRASH_MNT" 2>/dev/null || umount -l "$CRASH_MNT" || return 1
}

# crash_recover FS TAG N MODE: power on; the mount that replays the log;
# umount; fsck -n clean; mount again in MODE for the verifier.
crash_recover() {
    local fs=$1 tag=$2 n=$3 mode=$4
    rsnull_cfs_power "$CRASH_NAME" 1
    crash_mount "$fs" "$mode" || crash_fail "$tag" "$n" "mount after the power cut (log replay) failed"
    umount "$CRASH_MNT" || crash_fail "$tag" "$n" "umount after the log replay failed"
    crash_fsck "$fs" || crash_fail "$tag" "$n" "fsck -n after the log replay: $REPLY"
    crash_mount "$fs" "$mode" || crash_fail "$tag" "$n" "mount after fsck failed"
}

# crash_klog TAG N: the kernel log shows no report yet (checked every few
# rounds: a long run's messages could push an early report out of the
# buffer before the harness reads it after the test).
crash_klog() {
    local k
    k=$(dmesg 2>/dev/null) || return 0
    if [[ $k =~ $KTAP_KLOG_BAD ]]; then
        printf '%s\n' "$k" | grep -E -B5 -A20 "$KTAP_KLOG_BAD" | head -60
        crash_fail "$1" "$2" "kernel log: ${BASH_REMATCH[0]}"
    fi
}

# ---- random cuts under a workload -----------------------------------------

# crash_rounds FS W CUTS: make the filesystem, then CUTS rounds of
# workload W each cut at a random write (RSFS_CRASH_ONLY=W:N: rounds
# 1..N), then check that every round's directory is still as verified.
crash_rounds() {
    local fs=$1 w=$2 cuts=$3 tag=$2 r seed dir log snap out vout free mode at t0 only gen=1
    local -a kept=()
    [ "$fs" = ext4 ] && tag=ext4-$w
    crash_selected "$tag" || return 0
    only=$(crash_only_cut "$tag")
    [ -z "$only" ] || cuts=$only
    crash_mkfs "$fs"
    crash_mount "$fs" "$(crash_mode 1)" || fail "$tag: mount of the new filesystem failed"
    t0=$SECONDS
    for (( r = 1; r <= cuts; r++ )); do
        seed=$(crash_seed "$tag" "$r")
        mode=writeback=$(crash_mode "$r")
        [ "$fs" = ext4 ] && mode=ext4
        log=$CRASH_LOGS/$tag.$r.log
        # fragmented-append continues in one directory (a generation of it).
        if [ "$w" = fragmented-append ]; then
            dir=$CRASH_MNT/frag$gen snap=$CRASH_LOGS/$tag.g$gen.snap
        else
            dir=$CRASH_MNT/r$r snap=$CRASH_LOGS/$tag.$r.snap
        fi
        echo "$seed" >"$CRASH_CFS/random_seed"
        echo "$CRASH_SPAN" >"$CRASH_CFS/crash_random"
        read -r at <"$CRASH_CFS/crash_after_writes"
        out=$("$TU" "$w" "$dir" "$log" "$seed" "$(crash_size "$w")" 2>&1) ||
            crash_fail "$tag" "$r" "the workload failed (not the cut): $out"
        crash_cut || crash_fail "$tag" "$r" "cannot unmount after the cut"
        # A workload stopped by an error although the power stayed on
        # (errno=none, or none,none,none for the writers).
        if [[ $CUT_HOW == no* && ${out##*errno=} == *E* ]]; then
            crash_fail "$tag" "$r" "the workload stopped with an error before any cut: $out"
        fi
        crash_recover "$fs" "$tag" "$r" "$(crash_mode $(( r + 1 )))"
        vout=$("$TU" "$w-verify" "$dir" "$log" --snapshot "$snap" 2>&1) ||
            crash_fail "$tag" "$r" "$out; $CUT_HOW at write $at; VERIFY: $vout"
        echo "$tag cut $r/$cuts seed $seed $mode: $CUT_HOW at write $at (of 1..$CRASH_SPAN); $out; $vout; reproduce: $(crash_repro "$tag:$r")"
        [ "$w" = fragmented-append ] || kept+=("$dir")
        (( r % 5 )) || crash_klog "$tag" "$r"
        # Room for the next rounds: the oldest half of the round
        # directories go (their snapshots with them), or a new generation
        # of the appended files starts; made durable before the next cut.
        free=${vout##*free=}; free=${free%\%}
        if [[ $free =~ ^[0-9]+$ ]] && [ "$free" -lt 35 ]; then
            if [ "$w" = fragmented-append ]; then
                rm -rf "$dir" "$snap"
                gen=$(( gen + 1 ))
            else
                local half=$(( (${#kept[@]} + 1) / 2 )) d
                for d in "${kept[@]:0:half}"; do rm -f "$CRASH_LOGS/$tag.${d##*/r}.snap"; done
                rm -rf "${kept[@]:0:half}"
                kept=("${kept[@]:half}")
            fi
            sync -f "$CRASH_MNT"
            echo "# $tag: $free% free after cut $r: made room"
        fi
    done
    umount "$CRASH_MNT" || fail "$tag: final umount failed"
    crash_fsck "$fs" || fail "$tag: fsck -n at the end: $REPLY"
    crash_mount "$fs" "$(crash_mode 1)" || fail "$tag: final mount failed"
    local snaps=("$CRASH_LOGS/$tag".*.snap)
    if [ -e "${snaps[0]}" ]; then
        out=$("$TU" tree-check "${snaps[@]}" 2>&1) ||
            fail "$tag (seed $CRASH_SEED): a directory changed after it was verified (a later cut or replay damaged it): $out; reproduce: $(crash_repro "$tag")"
        echo "$tag: $out"
    fi
    umount "$CRASH_MNT"
    crash_klog "$tag" "$cuts"
    echo "$tag: $cuts cuts in $(( SECONDS - t0 )) s"
}

# ---- enumerated crash points under the short sequences --------------------

# crash_seq_restore: the freshly made filesystem back on the disk, durable.
crash_seq_restore() {
    dd if="$CRASH_LOGS/seq-base.img" of="$RSNULL_DEV" bs=1M oflag=direct conv=fsync status=none ||
        fail "cannot write the sequences' base image back"
}

# crash_seq_point FS NAME TAG N I SEED: sequence NAME with the power cut
# after write I after its set-up (0: no crash point; cut after it).
crash_seq_point() {
    local fs=$1 name=$2 tag=$3 n=$4 i=$5 seed=$6 mode arm=() out vout label
    mode=$(crash_mode "$n")
    local log=$CRASH_LOGS/$tag.$n.log
    label=writeback=$mode
    [ "$fs" = ext4 ] && label=ext4
    crash_seq_restore
    crash_mount "$fs" "$mode" || crash_fail "$tag" "$n" "mount of the base image failed"
    [ "$i" = 0 ] || arm=(--arm "$CRASH_CFS/crash_after_writes" "$i")
    out=$("$TU" seq "$name" "$CRASH_MNT/s" "$log" --seed "$seed" --stat "/sys/block/${RSNULL_DEV#/dev/}/stat" "${arm[@]}" 2>&1) ||
        crash_fail "$tag" "$n" "the sequence failed (not the cut): $out"
    SEQ_OUT=$out
    crash_cut || crash_fail "$tag" "$n" "cannot unmount after the cut"
    crash_recover "$fs" "$tag" "$n" "$mode"
    vout=$("$TU" seq-verify "$name" "$CRASH_MNT/s" "$log" 2>&1) ||
        crash_fail "$tag" "$n" "$out; $CUT_HOW at write $i; VERIFY: $vout"
    umount "$CRASH_MNT"
    echo "$tag point $n seed $seed $label: $CUT_HOW at write $i; $out; $vout; reproduce: $(crash_repro "$tag:$n")"
}

# crash_seqs FS POINTS: every sequence: run once with the power cut after it,
# which counts the writes and flushes its ops make (C); then cut after
# write i for POINTS values of i in 1..C (all: every one), each on the
# base image written back. Point N of a sequence is i = N.
crash_seqs() {
    local fs=$1 points=$2 name tag only count i t0=$SECONDS total=0
    local -a pick
    crash_mkfs "$fs" "$CRASH_SEQ_MB"
    dd if="$RSNULL_DEV" of="$CRASH_LOGS/seq-base.img" bs=1M count=$CRASH_SEQ_MB status=none ||
        fail "cannot save the sequences' base image"
    for name in $("$TU" seq-list); do
        tag=seq-$name
        [ "$fs" = ext4 ] && tag=ext4-seq-$name
        crash_selected "$tag" || continue
        only=$(crash_only_cut "$tag")
        crash_seq_point "$fs" "$name" "$tag" 0 0 "$(crash_seed "$tag" 0)"
        count=${SEQ_OUT##*writes=}; count=${count%% *}
        [[ $count =~ ^[0-9]+$ ]] || fail "$tag: no write count in: $SEQ_OUT"
        if [ -n "$only" ]; then
            pick=("$only")
        elif [ "$points" = all ]; then
            mapfile -t pick < <(seq 1 "$count")
        else
            # POINTS distinct points from the seed (over many runs, all).
            RANDOM=$(crash_seed "$tag" 1)
            pick=()
            while (( ${#pick[@]} < points && ${#pick[@]} < count )); do
                i=$(( RANDOM % count + 1 ))
                [[ " ${pick[*]} " == *" $i "* ]] || pick+=("$i")
            done
        fi
        for i in "${pick[@]}"; do
            crash_seq_point "$fs" "$name" "$tag" "$i" "$i" "$(crash_seed "$tag" "$i")"
            total=$(( total + 1 ))
        done
        echo "$tag: $count writes and flushes after the set-up; points ${pick[*]:-none}"
    done
    if [ "$fs" = ext4 ]; then crash_klog ext4-seq 0; else crash_klog seq 0; fi
    echo "sequences on $fs: $total crash points in $(( SECONDS - t0 )) s"
}

# ---- power cuts during recovery itself ------------------------------------

# crash_image_save FILE / crash_image_restore FILE: the crash
# filesystem's $CRASH_SEQ_MB MiB, saved and written back durably.
crash_image_save() {
    dd if="$RSNULL_DEV" of="$1" bs=1M count=$CRASH_SEQ_MB status=none || fail "cannot save $1"
}
crash_image_restore() {
    dd if="$1" of="$RSNULL_DEV" bs=1M oflag=direct conv=fsync status=none || fail "cannot write $1 back"
}

# crash_disk_writes: writes, discards and flushes the crash disk has
# completed (what crash points count): fields 5, 12 and 16 of its stat.
crash_disk_writes() {
    local -a f
    read -ra f <"/sys/block/${RSNULL_DEV#/dev/}/stat"
    echo $(( f[4] + f[11] + f[15] ))
}

# crash_power_cycle: the power off (if a crash point has not cut it) and
# on again, the crash point disarmed.
crash_power_cycle() {
    echo 0 >"$CRASH_CFS/crash_after_writes"
    rsnull_cfs_power "$CRASH_NAME" 0
    rsnull_cfs_power "$CRASH_NAME" 1
}

# crash_points TOTAL N: N crash points spread over 1..TOTAL (all: each).
crash_points() {
    local total=$1 n=$2 i
    if [ "$n" = all ] || [ "$n" -ge "$total" ]; then seq 1 "$total"; return 0; fi
    for (( i = 1; i <= n; i++ )); do echo $(( (total * i + n - 1) / n )); done | uniq
}

# crash_replay_cuts POINTS FSCK_POINTS: recovery must survive its own power
# cut. A namespace workload is cut (crash_random) on the sequences' small
# filesystem until the cut leaves committed transactions in the log; that
# image is saved, and a mount replays it once, uncut: the reference (its
# directory's tree_manifest, checked by the workload's verifier). Then, on
# the saved image each time, the power is cut at POINTS writes of the
# replaying mount and at FSCK_POINTS writes of `fsck.rsfs -y`'s replay;
# after power-on, `fsck.rsfs -n` must be clean and the next mount must
# find exactly the reference tree: replay starts again from the log and
# ends in the same state, wherever the cut fell.
crash_replay_cuts() {
    local points=$1 fsck_points=$2 tag=replay img=$CRASH_LOGS/replay.img ref=$CRASH_LOGS/replay.manifest
    local try seed dir=$CRASH_MNT/ns log=$CRASH_LOGS/replay.log out vout before total i n mode rc
    crash_mkfs rsfs "$CRASH_SEQ_MB"
    for (( try = 1; ; try++ )); do
        (( try <= 5 )) || fail "$tag: 5 cuts of the workload left nothing to replay"
        seed=$(crash_seed "$tag" "$try")
        mode=$(crash_mode "$try")
        crash_mount rsfs "$mode" || fail "$tag: mount failed"
        rm -rf "$dir"
        sync -f "$CRASH_MNT"
        echo "$seed" >"$CRASH_CFS/random_seed"
        # Later cuts than the workloads' rounds: a longer log to replay.
        echo $(( CRASH_SPAN * 2 )) >"$CRASH_CFS/crash_random"
        out=$("$TU" namespace "$dir" "$log" "$seed" 4000 2>&1) || fail "$tag: the workload failed (not the cut): $out"
        crash_cut || fail "$tag: cannot unmount after the cut"
        crash_power_cycle
        crash_image_save "$img"
        before=$(crash_disk_writes)
        klog_mark
        crash_mount rsfs "$mode" || fail "$tag (seed $CRASH_SEED, try $try): the replaying mount failed"
        total=$(( $(crash_disk_writes) - before ))
        n=$(klog_since_mark | sed -n 's/.*journal: replayed \([0-9]*\) transactions.*/\1/p')
        if [ -z "$n" ]; then
            # The cut fell where the log was empty: cut elsewhere.
            umount "$CRASH_MNT"
            continue
        fi
        break
    done
    vout=$("$TU" namespace-verify "$dir" "$log" 2>&1) || fail "$tag (seed $CRASH_SEED): the uncut replay: VERIFY: $vout"
    tree_manifest "$dir" >"$ref"
    umount "$CRASH_MNT"
    crash_fsck rsfs || fail "$tag: fsck -n after the uncut replay: $REPLY"
    echo "$tag: $out; the replay of $n transactions makes $total writes and flushes; $vout"

    # crash_replay_check WHAT: after the cut and a power cycle, fsck -n is
    # clean and a mount finds the reference tree.
    crash_replay_check() {
        crash_power_cycle
        crash_fsck rsfs || fail "$tag (seed $CRASH_SEED): $1: fsck -n after power-on: $REPLY"
        crash_mount rsfs "$mode" || fail "$tag (seed $CRASH_SEED): $1: the mount after power-on failed"
        tree_manifest "$dir" | cmp -s - "$ref" ||
            fail "$tag (seed $CRASH_SEED): $1: the tree differs from the uncut replay's: $(tree_manifest "$dir" | diff "$ref" - | head -8)"
        umount "$CRASH_MNT"
    }

    for i in $(crash_points "$total" "$points"); do
        crash_image_restore "$img"
        echo "$i" >"$CRASH_CFS/crash_after_writes"
        # The mount fails if the cut comes first; past its last write it
        # succeeds on a dead disk, and its unmount writes nothing.
        if crash_mount rsfs "$mode" 2>/dev/null; then umount "$CRASH_MNT"; fi
        crash_replay_check "mount cut at write $i of $total"
        echo "$tag: mount cut at write $i of $total: same tree"
    done

    crash_image_restore "$img"
    before=$(crash_disk_writes)
    # 0, or 1 if it also fixed something (freed an orphan).
    rc=0
    "$FSCK_RSFS" -y "$RSNULL_DEV" >"$CRASH_LOGS/fsck-y.out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || fail "$tag: fsck -y replaying the log: exit $rc: $(head -20 "$CRASH_LOGS/fsck-y.out")"
    total=$(( $(crash_disk_writes) - before ))
    crash_replay_check "fsck -y's replay, uncut"
    for i in $(crash_points "$total" "$fsck_points"); do
        crash_image_restore "$img"
        echo "$i" >"$CRASH_CFS/crash_after_writes"
        "$FSCK_RSFS" -y "$RSNULL_DEV" >/dev/null 2>&1 || true
        crash_replay_check "fsck -y cut at write $i of $total"
        echo "$tag: fsck -y cut at write $i of $total: same tree"
    done
    crash_klog "$tag" 0
}
