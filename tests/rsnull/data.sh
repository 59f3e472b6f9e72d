#!/usr/bin/env bash
# rsnull: data integrity under fio, discard and write-zeroes.
. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/modules.sh"

# fio_verify DEV JOBS MIB_PER_JOB BSRANGE [extra fio args]: each job writes its
# own MIB_PER_JOB region with checksummed blocks, then reads it back and
# verifies it; a second fio run re-reads and verifies everything, so the data
# must really be stored, not just have passed through. Debug kernels under
# TCG manage a few hundred I/Os per second: keep regions small.
fio_verify() {
    local dev=$1 jobs=$2 mib=$3 bsrange=$4; shift 4
    local common=(--filename="$dev" --direct=1 --ioengine=libaio --iodepth=16
                  --numjobs="$jobs" --size="${mib}M" --offset_increment="${mib}M"
                  --bsrange="$bsrange" --verify=crc32c --verify_fatal=1
                  --verify_state_save=0 --group_reporting "$@")
    fio --name=write --rw=randwrite "${common[@]}" >/dev/null
    fio --name=write --rw=randwrite --verify_only=1 "${common[@]}" >/dev/null
}

# For each block size and completion mode, write and verify the whole
# (small) device: one queue and one job, or two queues with two jobs.
test_fio_verify() {
    local bs=$1 irqmode=$2 queues=$3
    rsnull_load size_mb=4 bs="$bs" irqmode="$irqmode" completion_nsec=20000 \
        submit_queues="$queues" hw_queue_depth=16
    fio_verify /dev/rsnull0 "$queues" $((4 / queues)) "$bs-16k" --blockalign="$bs"
    rsnull_unload
}

# Sizes that straddle pages, and requests larger than one page.
test_fio_mixed_sizes() {
    rsnull_load size_mb=8 bs=512 submit_queues=2
    fio_verify /dev/rsnull0 2 4 512-256k --blockalign=512
    rsnull_unload
}

test_memory_backed_0_reads_zero() {
    rsnull_load size_mb=16 memory_backed=0
    dd if=/dev/urandom of=/dev/rsnull0 bs=1M count=4 oflag=direct status=none
    cmp -n $((4 << 20)) <(dd if=/dev/rsnull0 bs=1M count=4 iflag=direct status=none) /dev/zero ||
        fail "memory_backed=0 returned data"
    rsnull_unload
}

# fill_device DEV MIB: random data over the first MIB, returned as a file.
fill_device() {
    random_file /tmp/pattern "$2"
    dd if=/tmp/pattern of="$1" bs=1M oflag=direct status=none
}

# range_matches DEV OFFSET LEN SOURCE SOURCE_OFFSET: LEN bytes of DEV at
# OFFSET (read with O_DIRECT, so from the device) equal SOURCE's at SOURCE_OFFSET.
range_matches() {
    cmp -n "$3" <(dd if="$1" iflag=direct,skip_bytes,count_bytes bs=64k skip="$2" count="$3" status=none) \
        <(dd if="$4" iflag=skip_bytes,count_bytes bs=64k skip="$5" count="$3" status=none)
}

test_discard_reads_zero() {
    local op=$1 bs=$2 flag=""
    [ "$op" = write-zeroes ] && flag=-z
    rsnull_load size_mb=16 bs="$bs"
    fill_device /dev/rsnull0 16
    # A whole-page range, a range inside one page, and one straddling pages.
    blkdiscard $flag -o $((1 << 20)) -l $((1 << 20)) /dev/rsnull0
    blkdiscard $flag -o $((4 << 20)) -l "$bs" /dev/rsnull0
    blkdiscard $flag -o $(( (8 << 20) - bs )) -l $((2 * bs)) /dev/rsnull0
    range_matches /dev/rsnull0 $((1 << 20)) $((1 << 20)) /dev/zero 0 || fail "1 MiB range not zero"
    range_matches /dev/rsnull0 $((4 << 20)) "$bs" /dev/zero 0 || fail "sub-page range not zero"
    range_matches /dev/rsnull0 $(( (8 << 20) - bs )) $((2 * bs)) /dev/zero 0 || fail "straddling range not zero"
    # Everything around the ranges is intact.
    range_matches /dev/rsnull0 0 $((1 << 20)) /tmp/pattern 0 || fail "data before first range changed"
    range_matches /dev/rsnull0 $((2 << 20)) $((2 << 20)) /tmp/pattern $((2 << 20)) || fail "data between ranges changed"
    range_matches /dev/rsnull0 $(( (4 << 20) + bs )) $(( (4 << 20) - 2 * bs )) /tmp/pattern $(( (4 << 20) + bs )) ||
        fail "data after sub-page range changed"
    range_matches /dev/rsnull0 $(( (8 << 20) + bs )) $(( (8 << 20) - bs )) /tmp/pattern $(( (8 << 20) + bs )) ||
        fail "data after straddling range changed"
    # Discarding the whole device, then reading it all, gives zeros.
    blkdiscard $flag /dev/rsnull0
    cmp -n $((16 << 20)) /dev/rsnull0 /dev/zero || fail "device not zero after whole-device $op"
    rsnull_unload
}

test_discard_frees_memory() {
    rsnull_load size_mb=256 bs=4096
    local before after_write after_discard
    before=$(awk '/^MemFree/ {print $2}' /proc/meminfo)
    dd if=/dev/urandom of=/dev/rsnull0 bs=1M count=128 oflag=direct status=none
    after_write=$(awk '/^MemFree/ {print $2}' /proc/meminfo)
    blkdiscard /dev/rsnull0
    sleep 1  # pages return to the allocator after an RCU grace period
    after_discard=$(awk '/^MemFree/ {print $2}' /proc/meminfo)
    echo "MemFree kB: before $before, after write $after_write, after discard $after_discard"
    [ $(( before - after_write )) -gt $((100 << 10)) ] || fail "writing 128 MiB did not use memory"
    [ $(( after_discard - after_write )) -gt $((100 << 10)) ] || fail "discard did not free the memory"
    rsnull_unload
}

test_flush_and_fua() {
    rsnull_load size_mb=32 write_cache=1
    # fsync on a block device sends a flush; O_SYNC direct writes carry FUA.
    fio --name=fua --filename=/dev/rsnull0 --direct=1 --rw=randwrite --bs=4k --size=1M \
        --fsync=4 --verify=crc32c --verify_fatal=1 --verify_state_save=0 >/dev/null
    fio --name=sync --filename=/dev/rsnull0 --direct=1 --sync=1 --rw=write --bs=16k \
        --size=1M --offset=16M --verify=crc32c --verify_fatal=1 --verify_state_save=0 >/dev/null
    blockdev --flushbufs /dev/rsnull0
    rsnull_unload
}

# Every block size, every completion mode with one and with two queues:
# six runs cover what the full 4 x 3 x 2 product would, at half the time.
for combo in "512 0 1" "512 2 2" "1024 1 2" "2048 2 1" "4096 0 2" "4096 1 1"; do
    read -r bs irq queues <<<"$combo"
    ktap_test "rsnull fio-verify bs=$bs irqmode=$irq queues=$queues" test_fio_verify "$bs" "$irq" "$queues"
done
ktap_test "rsnull fio-verify mixed-sizes" test_fio_mixed_sizes
ktap_test "rsnull memory_backed=0" test_memory_backed_0_reads_zero
for bs in 512 4096; do
    ktap_test "rsnull discard-reads-zero bs=$bs" test_discard_reads_zero discard $bs
    ktap_test "rsnull write-zeroes-reads-zero bs=$bs" test_discard_reads_zero write-zeroes $bs
done
ktap_test "rsnull discard-frees-memory" test_discard_frees_memory
ktap_test "rsnull flush-and-fua" test_flush_and_fua
