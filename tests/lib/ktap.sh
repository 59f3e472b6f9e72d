# shellcheck shell=bash
# Minimal kselftest-style harness for the suites, run inside the VM.
#
# A suite sources this file, defines test functions and calls `ktap_test`
# for each. Every test runs in a subshell with `set -e`; it passes by
# returning 0, is skipped by calling `skip "why"`, and fails otherwise. After
# each test the kernel log is drained and searched for BUG, WARNING, Oops,
# KASAN, lockdep and hung-task reports: any of them fails the test.
#
# Results are numbered across suites through $KTAP_STATE (set by the guest
# runner); the host counts the `ok`/`not ok` lines.

: "${KTAP_STATE:=/tmp/ktap.state}"
: "${KTAP_LOGDIR:=/tmp}"
RSFS_TOP=${RSFS_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# Kernel log lines that fail a test.
KTAP_KLOG_BAD='(\bBUG\b|WARNING:|Oops|KASAN|UBSAN|general protection fault|possible (circular|recursive) locking|inconsistent lock state|lock held when returning|suspicious RCU usage|blocked for more than|soft lockup|hard LOCKUP|rcu.*stall|Kernel panic|refcount_t:)'

SKIP_RC=77

skip() { echo "SKIP: $*" >&2; exit $SKIP_RC; }
# (fail marks the test stopped: the subshells it ends say nothing more.)
fail() { echo "FAIL: $*" >&2; [ -z "${KTAP_STOPPED:-}" ] || : >"$KTAP_STOPPED"; exit 1; }

# expect_fail CMD...: the command must fail.
expect_fail() { if "$@" >/dev/null 2>&1; then fail "expected failure: $*"; fi; }

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# ktap_next: the next test number, in $KTAP_N. Builtins only: under TCG
# with the debug kernel every exec costs 0.1-0.6 s (Documentation/testing.md), so the
# per-test harness spawns as little as it can.
ktap_next() {
    KTAP_N=0
    [ -r "$KTAP_STATE" ] && read -r KTAP_N <"$KTAP_STATE"
    KTAP_N=$((KTAP_N + 1))
    echo "$KTAP_N" >"$KTAP_STATE"
}

# ktap_test NAME FUNCTION [ARGS...]
ktap_test() {
    local name=$1 fn=$2; shift 2
    local n rc out klog
    ktap_next
    n=$KTAP_N
    out=$KTAP_LOGDIR/test-$n.log
    KTAP_STOPPED=$out.stopped
    rm -f "$KTAP_STOPPED"
    # The kernel log was drained after the previous test (and at boot by
    # guest-run.sh): whatever is in it now is this test's.
    echo "# $n $name" >>"$KTAP_LOGDIR/dmesg.log"
    local t0=$SECONDS
    ( set -eE -o pipefail; cd /tmp
      # The command whose failure stops the test through set -e says so,
      # once (the innermost: the subshells it ends fail after it). fail
      # and skip exit with their own message; where set -e is off (a
      # command substitution, a `set +e` stretch) a failure stops nothing.
      trap 'KTAP_RC=$?; [[ $- == *e* && $KTAP_RC != "$SKIP_RC" && ! -e $KTAP_STOPPED ]] &&
            : >"$KTAP_STOPPED" &&
            echo "# stopped by set -e: \"$BASH_COMMAND\" exited $KTAP_RC (line $LINENO of ${BASH_SOURCE[0]##*/})" >&2' ERR
      # RSFS_TEST_TRACE=1: every command in the test log with a timestamp,
      # to see where a slow test spends its time.
      if [ -n "${RSFS_TEST_TRACE:-}" ]; then PS4='+ $EPOCHREALTIME '; set -x; fi
      "$fn" "$@" ) >"$out" 2>&1
    rc=$?
    rm -f "$KTAP_STOPPED"
    klog=$(dmesg -c 2>/dev/null || true)
    printf '%s\n' "$klog" >>"$KTAP_LOGDIR/dmesg.log"
    if [ -n "$klog" ] && [[ $klog =~ $KTAP_KLOG_BAD ]]; then
        echo "not ok $n $name"
        echo "# kernel log after this test:"
        printf '%s\n' "$klog" | grep -E -A20 "$KTAP_KLOG_BAD" | head -60 | sed 's/^/#   /'
    elif [ $rc -eq 0 ]; then
        echo "ok $n $name"
    elif [ $rc -eq $SKIP_RC ]; then
        echo "ok $n $name # SKIP $(grep '^SKIP: ' "$out" | tail -1 | cut -c7-)"
    else
        echo "not ok $n $name"
        tail -25 "$out" | sed 's/^/#   /'
    fi
    echo "# $n took $((SECONDS - t0)) s"
    return 0
}
