#!/usr/bin/env bash
# The demo: build the modules and tools, boot the debug kernel, load rsnull
# and rsfs, mkfs and mount rsfs, run a write workload, check it with
# fsck.rsfs and a remount, and show the results (scripts/demo-guest.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$RSFS_TOP"

KDIR=${KDIR:-$(scripts/kernel.sh debug)}
make -s KDIR="$KDIR" modules
log "building the tools (mkfs.rsfs, fsck.rsfs)"
(cd tools && cargo build --release --quiet)
out=$(mktemp -d /tmp/rsfs-demo.XXXXXX)
log "booting the VM (about a minute under TCG)"
if ! scripts/vm.sh --kdir "$KDIR" --rwdir "$out" -- "$RSFS_TOP/scripts/demo-guest.sh" "$out" \
        >"$out/console.log" 2>&1 || ! grep -q "^## demo finished" "$out/demo.log" 2>/dev/null; then
    tail -30 "$out/console.log"
    cat "$out/demo.log" 2>/dev/null
    die "demo failed; logs in $out"
fi
cat "$out/demo.log"
