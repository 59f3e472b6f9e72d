#!/usr/bin/env bash
# rsfs crash consistency: after power cuts at random and at enumerated
# points, rsfs must mount (replaying its journal), check clean with
# `fsck.rsfs -n`, and keep everything it acknowledged, and nothing else
# may show: no stale data, each namespace op all or nothing
# (tests/lib/crash.sh has the harness, tools/rsfs-testutil/src/crash/
# the workloads and the exact rules).
#
# - crash-fsx, crash-many-writers, crash-namespace,
#   crash-fragmented-append: random cuts (crash_random) under each
#   workload, one filesystem per workload, rounds alternating
#   -o writeback=folio and -o writeback=iomap;
# - crash-sequences: short CrashMonkey-style sequences, cut after their
#   last write and at enumerated writes in between;
# - crash-during-replay: the power cut again while the mount (or fsck -y)
#   replays a crashed image's log, at spread writes: the next mount must
#   find what an uncut replay found;
# - crash-ext4-reference: the random workloads on ext4. If ext4 fails, the
#   harness or a verifier rule is wrong, not ext4.
#
#   RSFS_CRASH_CUTS=N        random cuts over the four rsfs workloads
#                            (default 100; 1000+ for a long run)
#   RSFS_CRASH_EXT4_CUTS=N   the same on ext4 (default 6)
#   RSFS_CRASH_SEQ_POINTS=N  crash points per sequence besides the cut
#                            after it (default 1, chosen by the seed; all:
#                            every write and flush the sequence makes)
#   RSFS_CRASH_REPLAY_POINTS=N  cuts during the replay of a crashed image:
#                            N over the mount's writes, N over fsck -y's
#                            (default 4 and 2; all: every write of each)
#   RSFS_CRASH_EXT4_SEQ=1    the sequences on ext4 too (a long mode)
#   RSFS_CRASH_SEED=S        the seed (default random; printed)
#   RSFS_CRASH_ONLY=W[:N],.. only these: fsx, many-writers, namespace,
#                            fragmented-append, seq, seq-NAME, replay, ext4,
#                            ext4-W, ext4-seq-NAME; :N runs rounds 1..N
#                            (a sequence: its crash point N)
#   RSFS_CRASH_SPAN=N        a random cut comes within N writes (default 300)
#
# A failure names the workload, the cut and the command that repeats it.
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"
# shellcheck source=../lib/crash.sh
. "$(dirname "$0")/../lib/crash.sh"

CUTS=${RSFS_CRASH_CUTS:-100}
EXT4_CUTS=${RSFS_CRASH_EXT4_CUTS:-6}
WORKLOADS="fsx many-writers namespace fragmented-append"

# per TOTAL: each of the four workloads' share.
per() { echo $(( ($1 + 3) / 4 )); }

# selected TAG...: RSFS_CRASH_ONLY selects one of the tags, or one of their
# members (seq selects seq-create-fsync; seq-create-fsync selects seq).
selected() {
    local t item
    [ -z "$CRASH_ONLY" ] && return 0
    for t in "$@"; do
        crash_selected "$t" && return 0
        for item in ${CRASH_ONLY//,/ }; do
            [[ ${item%%:*} == "$t"-* ]] && return 0
        done
    done
    return 1
}

test_crash_workload() {
    selected "$1" || skip "not in RSFS_CRASH_ONLY=$CRASH_ONLY"
    crash_setup
    crash_rounds rsfs "$1" "$(per "$CUTS")"
}

test_crash_sequences() {
    selected seq || skip "not in RSFS_CRASH_ONLY=$CRASH_ONLY"
    crash_setup
    crash_seqs rsfs "${RSFS_CRASH_SEQ_POINTS:-1}"
}

test_crash_during_replay() {
    selected replay || skip "not in RSFS_CRASH_ONLY=$CRASH_ONLY"
    crash_setup
    crash_replay_cuts "${RSFS_CRASH_REPLAY_POINTS:-4}" "${RSFS_CRASH_REPLAY_POINTS:-2}"
}

test_crash_ext4_reference() {
    local w any=""
    for w in $WORKLOADS; do selected "ext4-$w" && any=1; done
    [ -n "$any" ] || skip "not in RSFS_CRASH_ONLY=$CRASH_ONLY"
    crash_setup
    for w in $WORKLOADS; do
        crash_rounds ext4 "$w" "$(per "$EXT4_CUTS")"
    done
}

test_crash_ext4_sequences() {
    if [ "${RSFS_CRASH_EXT4_SEQ:-}" != 1 ] && { [ -z "$CRASH_ONLY" ] || ! selected ext4-seq; }; then
        skip "a long mode: set RSFS_CRASH_EXT4_SEQ=1"
    fi
    crash_setup
    crash_seqs ext4 "${RSFS_CRASH_SEQ_POINTS:-1}"
}

suite() {
    local w
    for w in $WORKLOADS; do
        rsfs_test "crash-$w" test_crash_workload "$w"
    done
    rsfs_test crash-sequences test_crash_sequences
    rsfs_test crash-during-replay test_crash_during_replay
    rsfs_test crash-ext4-reference test_crash_ext4_reference
    rsfs_test crash-ext4-sequences test_crash_ext4_sequences
}

echo "# rsfs crash: RSFS_CRASH_SEED=$CRASH_SEED cuts=$CUTS ext4=$EXT4_CUTS${CRASH_ONLY:+ only=$CRASH_ONLY}"
# The writeback mode is a mount option here (rounds alternate), so the
# suite runs once, starting with the first mode; RSFS_EVERY_MODE=1 runs
# it again starting with the other.
rsfs_for_each_mode --any-mode suite
