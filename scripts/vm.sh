#!/usr/bin/env bash
# Boot the project's kernel in a throwaway VM (virtme-ng, TCG) and run a
# command as root in it. The VM sees the host's root file system read-only,
# so the checkout, fio, mkfs.* and friends are all there.
#
#   scripts/vm.sh [--kdir DIR] [--rwdir DIR] [--timeout SEC] [--cpus N] [--memory M] -- CMD...
#
# vm.sh exits with the command's status (1 if the VM died or timed out
# before the command finished). Under TCG a boot takes 30-60 s.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kdir="" rwdirs=() timeout=1800 cpus=2 memory=2G
while [ $# -gt 0 ]; do
    case $1 in
    --kdir) kdir=$2; shift 2 ;;
    --rwdir) rwdirs+=(--rwdir "$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --) shift; break ;;
    *) die "vm.sh: unknown option $1" ;;
    esac
done
[ $# -gt 0 ] || die "vm.sh: no command"
[ -n "$kdir" ] || kdir=$("$RSFS_TOP/scripts/kernel.sh" debug)

statusdir=$(mktemp -d /tmp/rsfs-vm.XXXXXX)
trap 'rm -rf "$statusdir"' EXIT
cmd=$(printf '%q ' "$RSFS_TOP/scripts/vm-guest-exec.sh" "$statusdir" "$@")
# no5lvl: with QEMU's `-cpu max` the guest would use 5-level paging, and the
# KASAN kernel then intermittently reports a wild access in rcu_is_watching()
# from an interrupt during identify_cpu() at boot (not our code, and it turns
# lockdep off for the rest of the boot). 4-level paging does not do that.
# /dev/kvm exists on these machines but nested KVM cannot boot Linux: TCG.
timeout --foreground -k 30 "$timeout" \
    vng --run "$kdir" --disable-kvm --cpus "$cpus" --memory "$memory" \
        --user root --cwd "$RSFS_TOP" "${rwdirs[@]}" --rwdir "$statusdir" \
        --append "log_buf_len=8M no5lvl" --verbose \
        --exec "$cmd" || true   # vng's own status says nothing about the command
rc=$(cat "$statusdir/rc" 2>/dev/null) || { log "vm.sh: the VM ended before the command finished"; exit 1; }
exit "$rc"
