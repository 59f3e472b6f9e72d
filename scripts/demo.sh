#!/usr/bin/env bash
# The demo: build the modules, boot the debug kernel, load rsnull, put ext4
# on it, run a fio write workload and show the results.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$RSFS_TOP"

KDIR=${KDIR:-$(scripts/kernel.sh debug)}
make -s KDIR="$KDIR" modules
out=$(mktemp -d /tmp/rsfs-demo.XXXXXX)
scripts/vm.sh --kdir "$KDIR" --rwdir "$out" -- bash -c '
    set -e
    exec >"$1/demo.log" 2>&1
    cd "$2"
    echo "## insmod rsnull.ko size_mb=512 submit_queues=2"
    insmod rsnull.ko size_mb=512 submit_queues=2
    lsblk /dev/rsnull0
    echo "## mkfs.ext4 /dev/rsnull0 && mount"
    mkfs.ext4 -q /dev/rsnull0
    mkdir -p /tmp/mnt && mount /dev/rsnull0 /tmp/mnt
    echo "## fio: 64 MiB of 4k random writes, 2 jobs, then verify"
    fio --name=demo --directory=/tmp/mnt --rw=randwrite --bs=4k --size=32M --numjobs=2 \
        --ioengine=libaio --iodepth=16 --direct=1 --verify=crc32c --group_reporting \
        | grep -E "write:|WRITE:|lat \(usec\): min|verify"
    df -h /tmp/mnt
    umount /tmp/mnt
    echo "## e2fsck -fn"
    e2fsck -fn /dev/rsnull0
    rmmod rsnull
    echo "## kernel log"
    dmesg | grep -E "rsnull|EXT4-fs \(rsnull" | tail -5
' demo "$out" "$RSFS_TOP" >"$out/console.log" 2>&1 || { tail -30 "$out/console.log"; cat "$out/demo.log" 2>/dev/null; die "demo failed"; }
cat "$out/demo.log"
