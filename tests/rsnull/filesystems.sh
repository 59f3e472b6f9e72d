#!/usr/bin/env bash
# rsnull as a disk for real filesystems: mkfs, write, fsck, remount, compare.
. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/modules.sh"

MNT=/tmp/rsnull-mnt

# mkfs.xfs refuses file systems under 300 MiB; memory is only used when written.

fs_roundtrip() {
    local fs=$1; shift
    case $fs in
    xfs) modprobe xfs ;;
    f2fs) modprobe f2fs ;;
    esac
    rsnull_load size_mb=512 "$@"
    case $fs in
    ext4) mkfs.ext4 -q -F /dev/rsnull0 ;;
    xfs) mkfs.xfs -q -f /dev/rsnull0 ;;
    f2fs) mkfs.f2fs -q -f /dev/rsnull0 >/dev/null ;;
    esac
    mkdir -p $MNT
    mount -t "$fs" /dev/rsnull0 $MNT
    mkdir -p $MNT/dir/sub
    random_file $MNT/big 4
    local i
    for i in $(seq 1 50); do head -c $((i * 97)) /dev/urandom >$MNT/dir/sub/f$i; done
    fio --name=fs --directory=$MNT --rw=randwrite --bsrange=4k-64k --size=2M --numjobs=2 \
        --ioengine=psync --fsync=8 --verify=crc32c --verify_fatal=1 --verify_state_save=0 >/dev/null
    (cd $MNT && find . -type f ! -name 'fs.*' -print0 | sort -z | xargs -0 sha256sum) >/tmp/sums.before
    umount $MNT
    case $fs in
    ext4) e2fsck -fn /dev/rsnull0 ;;
    xfs) xfs_repair -n /dev/rsnull0 ;;
    f2fs) fsck.f2fs /dev/rsnull0 | tee /tmp/fsck.out; ! grep -qi 'fail\|corrupt\|error' /tmp/fsck.out ;;
    esac
    mount -t "$fs" /dev/rsnull0 $MNT
    (cd $MNT && find . -type f ! -name 'fs.*' -print0 | sort -z | xargs -0 sha256sum) >/tmp/sums.after
    umount $MNT
    cmp /tmp/sums.before /tmp/sums.after || fail "$fs data changed across remount"
    rsnull_unload
}

ktap_test "rsnull ext4 bs=4096" fs_roundtrip ext4 bs=4096
ktap_test "rsnull ext4 bs=512 write_cache=1 irqmode=2" fs_roundtrip ext4 bs=512 write_cache=1 irqmode=2
ktap_test "rsnull xfs bs=512 queues=2" fs_roundtrip xfs bs=512 submit_queues=2
ktap_test "rsnull f2fs bs=4096 write_cache=1 queues=2" fs_roundtrip f2fs bs=4096 write_cache=1 submit_queues=2
