#!/usr/bin/env bash
# rsnull: parameters, sysfs, limits, load and unload.
. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/modules.sh"

test_modinfo_describes_params() {
    local p params
    params=$(modinfo -p "$RSNULL_KO")
    for p in nr_devices gb size_mb bs submit_queues hw_queue_depth irqmode \
             completion_nsec memory_backed discard write_cache cache_size fua; do
        grep -q "^$p:.\+" <<<"$params" || fail "modinfo has no description for $p"
    done
}

test_sysfs_reflects_params() {
    rsnull_load nr_devices=2 size_mb=64 bs=4096 submit_queues=2 hw_queue_depth=32 write_cache=1
    local d
    for d in rsnull0 rsnull1; do
        assert_eq "$(cat /sys/block/$d/size)" $((64 * 2048)) "$d size"
        assert_eq "$(cat /sys/block/$d/queue/logical_block_size)" 4096 "$d logical_block_size"
        assert_eq "$(cat /sys/block/$d/queue/physical_block_size)" 4096 "$d physical_block_size"
        assert_eq "$(ls /sys/block/$d/mq | wc -l)" 2 "$d hw queues"
        assert_eq "$(cat /sys/block/$d/mq/0/nr_tags)" 32 "$d queue depth"
        assert_eq "$(cat /sys/block/$d/queue/write_cache)" "write back" "$d write_cache"
        assert_eq "$(cat /sys/block/$d/queue/fua)" 1 "$d fua"
        [ "$(cat /sys/block/$d/queue/discard_max_bytes)" -gt 0 ] || fail "$d has no discard"
        [ "$(cat /sys/block/$d/queue/write_zeroes_max_bytes)" -gt 0 ] || fail "$d has no write-zeroes"
    done
    [ ! -e /sys/block/rsnull2 ] || fail "nr_devices=2 made a third disk"
    assert_eq "$(cat /sys/module/rsnull/parameters/bs)" 4096 "parameter bs"
    rsnull_load discard=0 size_mb=16
    assert_eq "$(cat /sys/block/rsnull0/queue/discard_max_bytes)" 0 "discard=0 discard_max_bytes"
    assert_eq "$(cat /sys/block/rsnull0/queue/write_cache)" "write through" "default write_cache"
    assert_eq "$(cat /sys/block/rsnull0/queue/logical_block_size)" 512 "default bs"
    rsnull_unload
}

test_default_size_is_250_gib() {
    rsnull_load
    assert_eq "$(dev_bytes /dev/rsnull0)" $((250 << 30)) "default size"
    rsnull_unload
}

bad_param() {
    local klog disks
    rsnull_unload
    dmesg -c >/dev/null
    if insmod "$RSNULL_KO" "$@" 2>/dev/null; then
        fail "insmod rsnull $* succeeded"
    fi
    module_loaded rsnull && fail "rsnull stayed loaded after a failed insmod ($*)"
    disks=(/sys/block/rsnull*)
    [ ! -e "${disks[0]}" ] || fail "a disk was left behind by insmod $*"
    klog=$(dmesg | grep 'rsnull: ') || fail "no kernel message explains why insmod $* failed"
    echo "$* -> ${klog##*$'\n'}"
}

test_bad_params_rejected() {
    bad_param bs=1000
    bad_param bs=8192
    bad_param bs=0
    bad_param gb=0
    bad_param size_mb=0 gb=0
    bad_param gb=100000000
    bad_param hw_queue_depth=0
    bad_param hw_queue_depth=100000
    bad_param submit_queues=0
    bad_param submit_queues=100000
    bad_param irqmode=3
    bad_param irqmode=2 completion_nsec=100000000000
    bad_param nr_devices=1000
    bad_param cache_size=100000
}

test_io_beyond_end_rejected() {
    rsnull_load size_mb=16 bs=4096
    local blocks=$(( (16 << 20) / 4096 ))
    # The last block is writable, the one past it is not.
    dd if=/dev/urandom of=/dev/rsnull0 bs=4096 seek=$((blocks - 1)) count=1 oflag=direct status=none
    expect_fail dd if=/dev/zero of=/dev/rsnull0 bs=4096 seek=$blocks count=1 oflag=direct status=none
    # Reading at the end returns nothing rather than data.
    assert_eq "$(dd if=/dev/rsnull0 bs=4096 skip=$blocks count=1 iflag=direct status=none | wc -c)" 0 "read past end"
    rsnull_unload
}

test_unwritten_reads_zero() {
    rsnull_load size_mb=32
    cmp -n $((32 << 20)) /dev/rsnull0 /dev/zero || fail "fresh device does not read as zeros"
    rsnull_unload
}

test_load_unload_cycles() {
    local i
    for i in $(seq 1 10); do
        rsnull_load size_mb=8 nr_devices=2 irqmode=$((i % 3)) submit_queues=$(( (i % 2) + 1 ))
        dd if=/dev/urandom of=/dev/rsnull1 bs=64k count=16 oflag=direct status=none
        dd if=/dev/rsnull1 of=/dev/null bs=64k iflag=direct status=none
        rsnull_unload
    done
}

test_rmmod_refused_while_open() {
    rsnull_load size_mb=8
    exec 3</dev/rsnull0
    expect_fail rmmod rsnull
    [ -b /dev/rsnull0 ] || fail "disk vanished under an open file"
    exec 3<&-
    rmmod rsnull
}

test_rmmod_refused_while_mounted() {
    rsnull_load size_mb=64
    mkfs.ext4 -q /dev/rsnull0
    mkdir -p /tmp/mnt && mount /dev/rsnull0 /tmp/mnt
    expect_fail rmmod rsnull
    echo hello >/tmp/mnt/f
    umount /tmp/mnt
    rmmod rsnull
}

test_side_by_side_with_null_blk_and_rnull() {
    modprobe null_blk nr_devices=1 || skip "null_blk not available"
    modprobe rnull_mod || { modprobe -r null_blk; skip "rnull not available"; }
    rsnull_load size_mb=8
    [ -b /dev/nullb0 ] && [ -b /dev/rnullb0 ] && [ -b /dev/rsnull0 ] || fail "not all three disks present"
    rsnull_unload
    modprobe -r rnull_mod null_blk
}

ktap_test "rsnull modinfo-params" test_modinfo_describes_params
ktap_test "rsnull sysfs-reflects-params" test_sysfs_reflects_params
ktap_test "rsnull default-size" test_default_size_is_250_gib
ktap_test "rsnull bad-params-rejected" test_bad_params_rejected
ktap_test "rsnull io-beyond-end" test_io_beyond_end_rejected
ktap_test "rsnull unwritten-reads-zero" test_unwritten_reads_zero
ktap_test "rsnull load-unload-cycles" test_load_unload_cycles
ktap_test "rsnull rmmod-refused-while-open" test_rmmod_refused_while_open
ktap_test "rsnull rmmod-refused-while-mounted" test_rmmod_refused_while_mounted
ktap_test "rsnull side-by-side-null_blk-rnull" test_side_by_side_with_null_blk_and_rnull
