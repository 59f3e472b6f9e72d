#!/usr/bin/env bash
# Runs inside the VM for `make demo` (scripts/demo.sh boots it): rsnull,
# ext4 on it, a fio write workload with verification, fsck, unload.
#
#   scripts/demo-guest.sh OUTDIR
set -euo pipefail
exec >"$1/demo.log" 2>&1
cd "$(dirname "$0")/.."

echo "## insmod rsnull.ko size_mb=512 submit_queues=2"
insmod rsnull.ko size_mb=512 submit_queues=2
lsblk /dev/rsnull0
echo "## mkfs.ext4 /dev/rsnull0 && mount"
mkfs.ext4 -q /dev/rsnull0
mkdir -p /tmp/mnt && mount /dev/rsnull0 /tmp/mnt
echo "## fio: 2 jobs x 8 MiB of 4k random direct writes, verified with crc32c"
fio --name=demo --directory=/tmp/mnt --rw=randwrite --bs=4k --size=8M --numjobs=2 \
    --ioengine=libaio --iodepth=16 --direct=1 --verify=crc32c --verify_state_save=0 \
    --group_reporting | grep -E "write: IOPS|WRITE:|read: IOPS|READ:|err="
df -h /tmp/mnt
umount /tmp/mnt
echo "## e2fsck -fn /dev/rsnull0"
e2fsck -fn /dev/rsnull0
rmmod rsnull
echo "## kernel log"
dmesg | grep -E "rsnull|EXT4-fs \(rsnull" | tail -5
echo "## demo finished"
