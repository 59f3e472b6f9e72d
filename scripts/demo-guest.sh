#!/usr/bin/env bash
# Runs inside the VM for `make demo` (scripts/demo.sh boots it): rsnull,
# rsfs on it, a write workload through the page cache and our writepages,
# fsck.rsfs, a remount that checks the data, and ext4 on rsnull for scale.
#
#   scripts/demo-guest.sh OUTDIR
set -euo pipefail
exec >"$1/demo.log" 2>&1
cd "$(dirname "$0")/.."
PATH=$PWD/tools/target/release:$PATH

echo "## insmod rsnull.ko size_mb=512 submit_queues=2 && insmod rsfs.ko writeback=folio"
insmod rsnull.ko size_mb=512 submit_queues=2
insmod rsfs.ko writeback=folio
lsblk /dev/rsnull0
echo "## mkfs -t rsfs /dev/rsnull0 && mount -t rsfs /dev/rsnull0 /tmp/mnt"
mkfs -t rsfs -L demo /dev/rsnull0
mkdir -p /tmp/mnt && mount -t rsfs /dev/rsnull0 /tmp/mnt
grep rsfs /proc/mounts
echo "## fio: 2 jobs x 16 MiB of buffered sequential writes + 4k random overwrites, verified with crc32c"
fio --name=seq --directory=/tmp/mnt --rw=write --bs=64k --size=16M --numjobs=2 \
    --ioengine=psync --end_fsync=1 --verify=crc32c --verify_state_save=0 \
    --group_reporting | grep -E "write: IOPS|WRITE:|read: IOPS|READ:|err="
fio --name=rand --directory=/tmp/mnt --rw=randwrite --bs=4k --size=4M --numjobs=2 \
    --ioengine=psync --fsync=64 --verify=crc32c --verify_state_save=0 \
    --group_reporting | grep -E "write: IOPS|WRITE:|read: IOPS|READ:|err="
echo "## a tree of small files, then sync"
mkdir -p /tmp/mnt/tree && for d in 1 2 3 4; do mkdir /tmp/mnt/tree/$d
    for f in $(seq 50); do echo "file $d/$f" >/tmp/mnt/tree/$d/$f; done; done
dd if=/dev/urandom of=/tmp/mnt/blob bs=1M count=8 status=none
sum=$(md5sum </tmp/mnt/blob)
sync
df -h /tmp/mnt; df -i /tmp/mnt
echo "## umount && fsck -t rsfs -n /dev/rsnull0"
umount /tmp/mnt
fsck -t rsfs -n /dev/rsnull0
echo "## mount again: the data is still there"
mount -t rsfs /dev/rsnull0 /tmp/mnt
[ "$(md5sum </tmp/mnt/blob)" = "$sum" ] && echo "blob: checksum matches"
[ "$(cat /tmp/mnt/tree/3/42)" = "file 3/42" ] && echo "tree/3/42: contents match"
ls /tmp/mnt
umount /tmp/mnt
rmmod rsfs
echo "## ext4 on the same rsnull, same fio job, for comparison"
mkfs.ext4 -q /dev/rsnull0
mount /dev/rsnull0 /tmp/mnt
fio --name=seq --directory=/tmp/mnt --rw=write --bs=64k --size=16M --numjobs=2 \
    --ioengine=psync --end_fsync=1 --verify=crc32c --verify_state_save=0 \
    --group_reporting | grep -E "write: IOPS|WRITE:|err="
umount /tmp/mnt
rmmod rsnull
echo "## kernel log"
dmesg | grep -E "rsnull|rsfs" | tail -8
echo "## demo finished"
