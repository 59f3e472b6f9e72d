#!/usr/bin/env bash
# rsnull's configfs devices: attributes, the volatile cache and power cuts,
# crash points, bad blocks, random errors, memory pressure.
. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/modules.sh"

# region_sum DEV OFFSET_KIB LEN_KIB: checksum of a device range (direct
# I/O, in 4 KiB blocks: offsets and lengths are multiples of 4).
region_sum() {
    dd if="$1" bs=4K skip="$(($2 / 4))" count="$(($3 / 4))" iflag=direct status=none | md5sum | cut -d' ' -f1
}
zero_sum() { head -c "$(( $1 << 10 ))" /dev/zero | md5sum | cut -d' ' -f1; }
file_sum() { md5sum <"$1" | cut -d' ' -f1; }

# put DEV OFFSET_KIB FILE [dd flags]: write FILE at OFFSET (a multiple of
# 4), O_DIRECT, no flush.
put() {
    local dev=$1 off=$2 file=$3; shift 3
    dd if="$file" of="$dev" bs=4K seek="$((off / 4))" oflag=direct"${1:+,$1}" conv=notrunc status=none
}

# flush DEV: fsync the block device, which sends a cache flush.
flush() { sync "$1"; }

# The configfs tree: nr_devices=0 makes no disk, mkdir makes a device
# whose attributes reach sysfs when it is powered on, shaping attributes
# are fixed while it has power, and power off removes the disk.
test_create_and_remove() {
    local d dev
    rsnull_cfs_clean
    insmod "$RSNULL_KO" nr_devices=0
    local disks=(/sys/block/rsnull*)
    [ ! -e "${disks[0]}" ] || fail "nr_devices=0 made a disk"
    grep -q power "$RSNULL_CFS/features" || fail "features does not list power"
    mkdir "$RSNULL_CFS/d0"
    d=$RSNULL_CFS/d0
    for a in size blocksize submit_queues hw_queue_depth irqmode completion_nsec memory_backed \
             discard cache_size fua index power badblocks features crash_after_writes \
             crash_random random_seed read_error_probability write_error_probability; do
        [ -e "$d/$a" ] || fail "no attribute $a"
        [ "$a" = features ] || grep -qw "$a" "$d/features" || fail "features does not list $a"
    done
    assert_eq "$(<"$d/power")" 0 "power of a new device"
    echo 48 >"$d/size"; echo 4096 >"$d/blocksize"; echo 2 >"$d/submit_queues"
    echo 16 >"$d/hw_queue_depth"; echo 4 >"$d/cache_size"; echo 1 >"$d/fua"; echo 7 >"$d/index"
    echo 1 >"$d/power"
    udevadm settle 2>/dev/null || true
    dev=rsnull7
    [ -b /dev/$dev ] || fail "no /dev/$dev after power-on with index 7"
    assert_eq "$(<"$d/power")" 1 "power after power-on"
    assert_eq "$(</sys/block/$dev/size)" $((48 * 2048)) "size in sysfs"
    assert_eq "$(</sys/block/$dev/queue/logical_block_size)" 4096 "blocksize in sysfs"
    assert_eq "$(ls /sys/block/$dev/mq | wc -l)" 2 "hw queues in sysfs"
    assert_eq "$(</sys/block/$dev/mq/0/nr_tags)" 16 "queue depth in sysfs"
    assert_eq "$(</sys/block/$dev/queue/write_cache)" "write back" "a cache is a write-back cache"
    assert_eq "$(</sys/block/$dev/queue/fua)" 1 "fua in sysfs"
    # Shaping attributes are refused while powered; faults are not.
    if echo 64 >"$d/size" 2>/dev/null; then fail "size changed while powered"; fi
    assert_eq "$(<"$d/size")" 48 "size after a refused change"
    echo 5 >"$d/read_error_probability"
    echo 0 >"$d/read_error_probability"
    # A device in configfs holds the module.
    expect_fail rmmod rsnull
    echo 0 >"$d/power"
    [ ! -e /sys/block/$dev ] || fail "the disk stayed after power off"
    echo 32 >"$d/size"
    echo 1 >"$d/power"
    assert_eq "$(</sys/block/$dev/size)" $((32 * 2048)) "size after a power cycle"
    rmdir "$d"
    [ ! -e /sys/block/$dev ] || fail "the disk stayed after rmdir"
    rmmod rsnull || fail "rmmod after rmdir failed"
}

# bad_value NAME ATTR VALUE: the write is refused and the kernel says why.
bad_value() {
    local d=$RSNULL_CFS/$1 before
    before=$(<"$d/$2")
    klog_mark
    if echo "$3" >"$d/$2" 2>/dev/null; then fail "$2=$3 was accepted"; fi
    assert_eq "$(<"$d/$2")" "$before" "$2 after refusing $3"
    dmesg | sed -n "/$KLOG_MARK/,\$p" | grep -q "rsnull" || fail "no kernel message for $2=$3"
}
klog_mark() { KLOG_MARK="rsnull-mark-$RANDOM$RANDOM"; echo "$KLOG_MARK" >/dev/kmsg; }

test_bad_values_refused() {
    rsnull_cfs_clean
    insmod "$RSNULL_KO" nr_devices=0
    mkdir "$RSNULL_CFS/b"
    bad_value b blocksize 1000
    bad_value b blocksize x
    bad_value b size 0
    bad_value b size 100000000000
    bad_value b irqmode 3
    bad_value b hw_queue_depth 0
    bad_value b submit_queues 100000
    bad_value b cache_size 5000
    bad_value b memory_backed 2
    bad_value b completion_nsec 100000000000
    bad_value b read_error_probability 101
    bad_value b index 100000
    if echo 2 >"$RSNULL_CFS/b/power" 2>/dev/null; then fail "power=2 accepted"; fi
    if echo garbage >"$RSNULL_CFS/b/badblocks" 2>/dev/null; then fail "badblocks garbage accepted"; fi
    if echo +9-3 >"$RSNULL_CFS/b/badblocks" 2>/dev/null; then fail "badblocks +9-3 accepted"; fi
    # Two devices cannot have one index.
    mkdir "$RSNULL_CFS/c"
    echo 3 >"$RSNULL_CFS/b/index"; echo 3 >"$RSNULL_CFS/c/index"
    echo 16 >"$RSNULL_CFS/b/size"; echo 16 >"$RSNULL_CFS/c/size"
    echo 1 >"$RSNULL_CFS/b/power"
    if echo 1 >"$RSNULL_CFS/c/power" 2>/dev/null; then fail "a second device took index 3"; fi
    assert_eq "$(<"$RSNULL_CFS/c/power")" 0 "power of the refused device"
    rsnull_cfs_clean
}

# The volatile cache: flushed writes survive a power cut, unflushed ones
# are gone (the old contents come back), FUA writes survive.
test_cache_power_cut() {
    rsnull_cfs_clean
    head -c 1M /dev/urandom >/tmp/a; head -c 1M /dev/urandom >/tmp/b
    head -c 64K /dev/urandom >/tmp/c; head -c 64K /dev/urandom >/tmp/f
    rsnull_cfs_new p size=32 blocksize=4096 cache_size=8 fua=1
    local dev=$RSNULL_DEV
    put "$dev" 0 /tmp/a
    flush "$dev"
    # O_DSYNC: a FUA write, then (blkdev_write_iter's generic_write_sync) a
    # flush; so it comes before the writes that must be lost.
    put "$dev" 8192 /tmp/f dsync
    put "$dev" 4096 /tmp/b           # never flushed
    put "$dev" 0 /tmp/c              # overwrites flushed data, never flushed
    assert_eq "$(region_sum "$dev" 4096 1024)" "$(file_sum /tmp/b)" "unflushed data reads back before the cut"
    rsnull_cfs_power p 0
    [ ! -b "$dev" ] || fail "$dev stayed after the power cut"
    rsnull_cfs_power p 1
    assert_eq "$RSNULL_DEV" "$dev" "the device name after power-on"
    assert_eq "$(region_sum "$dev" 0 1024)" "$(file_sum /tmp/a)" "flushed data after the cut"
    assert_eq "$(region_sum "$dev" 4096 1024)" "$(zero_sum 1024)" "unflushed data after the cut"
    assert_eq "$(region_sum "$dev" 8192 64)" "$(file_sum /tmp/f)" "FUA data after the cut"
    dmesg | grep -q "rsnull.*power off; lost" || fail "the cut was not reported"
    # Flushed, then cut: nothing is lost.
    put "$dev" 4096 /tmp/b
    flush "$dev"
    rsnull_cfs_power p 0; rsnull_cfs_power p 1
    assert_eq "$(region_sum "$dev" 4096 1024)" "$(file_sum /tmp/b)" "data flushed before the cut"
    rsnull_cfs_clean
}

# Without a cache, every completed write is durable.
test_no_cache_everything_durable() {
    rsnull_cfs_clean
    head -c 1M /dev/urandom >/tmp/a
    rsnull_cfs_new n size=16 blocksize=512
    put "$RSNULL_DEV" 100 /tmp/a
    rsnull_cfs_power n 0; rsnull_cfs_power n 1
    assert_eq "$(region_sum "$RSNULL_DEV" 100 1024)" "$(file_sum /tmp/a)" "data after the cut (no cache)"
    assert_eq "$(</sys/block/$(basename "$RSNULL_DEV")/queue/write_cache)" "write through" "no cache: write through"
    rsnull_cfs_clean
}

# A full cache writes its oldest pages back: of 4 MiB written into a 1 MiB
# cache, the first 3 MiB are durable and the last 1 MiB is lost.
test_cache_full_writes_back() {
    rsnull_cfs_clean
    head -c 4M /dev/urandom >/tmp/big
    rsnull_cfs_new w size=16 blocksize=4096 cache_size=1
    dd if=/tmp/big of="$RSNULL_DEV" bs=1M oflag=direct status=none
    rsnull_cfs_power w 0; rsnull_cfs_power w 1
    assert_eq "$(region_sum "$RSNULL_DEV" 0 3072)" "$(head -c 3M /tmp/big | md5sum | cut -d' ' -f1)" "written back part"
    assert_eq "$(region_sum "$RSNULL_DEV" 3072 1024)" "$(zero_sum 1024)" "part still in the cache"
    rsnull_cfs_clean
}

# crash_after_writes=5: the power goes right after the fifth write, the
# sixth fails, and the same setting gives the same device contents again.
crash_run() {
    local cache=$1
    rsnull_cfs_new k size=16 blocksize=4096 cache_size="$cache"
    local d=$RSNULL_CFS/k dev=$RSNULL_DEV
    echo 5 >"$d/crash_after_writes"
    assert_eq "$(<"$d/crash_after_writes")" 5 "crash_after_writes read back"
    if dd if=/tmp/ten of="$dev" bs=4K count=10 oflag=direct status=none 2>/dev/null; then
        fail "10 writes passed a crash point after 5"
    fi
    assert_eq "$(<"$d/power")" 0 "power after the crash point"
    assert_eq "$(<"$d/crash_after_writes")" 0 "crash point disarmed once hit"
    rsnull_cfs_power k 1
    region_sum "$RSNULL_DEV" 0 40 >/tmp/crash.$cache.$2
    rsnull_cfs_rm k
}

test_crash_points() {
    rsnull_cfs_clean
    head -c 40K /dev/urandom >/tmp/ten
    crash_run 0 1
    crash_run 0 2
    assert_eq "$(</tmp/crash.0.1)" "$(</tmp/crash.0.2)" "device after the same crash point twice"
    assert_eq "$(</tmp/crash.0.1)" "$( (head -c 20K /tmp/ten; head -c 20K /dev/zero) | md5sum | cut -d' ' -f1)" \
        "no cache: the five writes before the cut are there, the rest not"
    crash_run 4 1
    assert_eq "$(</tmp/crash.4.1)" "$(zero_sum 40)" "with a cache and no flush, the cut loses all five"
    dmesg | grep -q "crash point: power cut" || fail "the crash point was not reported"
    # Random crash points come from the seed: the same seed, the same point.
    rsnull_cfs_new r size=16
    local d=$RSNULL_CFS/r a b
    echo 42 >"$d/random_seed"; echo 1000 >"$d/crash_random"; a=$(<"$d/crash_after_writes")
    echo 42 >"$d/random_seed"; echo 1000 >"$d/crash_random"; b=$(<"$d/crash_after_writes")
    assert_eq "$b" "$a" "random crash point from seed 42, twice"
    [ "$a" -ge 1 ] && [ "$a" -le 1000 ] || fail "random crash point $a outside 1..1000"
    echo 0 >"$d/crash_after_writes"
    rsnull_cfs_clean
}

test_badblocks() {
    rsnull_cfs_clean
    rsnull_cfs_new bb size=16 blocksize=512
    local d=$RSNULL_CFS/bb dev=$RSNULL_DEV
    dd if=/dev/urandom of="$dev" bs=512 count=64 oflag=direct status=none
    echo "+16-23" >"$d/badblocks"
    assert_eq "$(<"$d/badblocks")" "16 8" "badblocks list"
    expect_fail dd if="$dev" of=/dev/null bs=512 skip=16 count=1 iflag=direct status=none
    expect_fail dd if="$dev" of=/dev/null bs=512 skip=20 count=8 iflag=direct status=none
    expect_fail dd if=/dev/zero of="$dev" bs=512 seek=23 count=1 oflag=direct status=none
    dd if="$dev" of=/dev/null bs=512 skip=24 count=8 iflag=direct status=none
    dd if=/dev/zero of="$dev" bs=512 seek=8 count=8 oflag=direct status=none
    echo "-16-23" >"$d/badblocks"
    assert_eq "$(<"$d/badblocks")" "" "badblocks list after clearing"
    dd if="$dev" of=/dev/null bs=512 skip=16 count=8 iflag=direct status=none
    rsnull_cfs_clean
}

test_error_probability() {
    rsnull_cfs_clean
    rsnull_cfs_new e size=16 blocksize=4096
    local d=$RSNULL_CFS/e dev=$RSNULL_DEV i ok=0 bad=0
    dd if=/dev/urandom of="$dev" bs=4K count=64 oflag=direct status=none
    echo 100 >"$d/write_error_probability"
    expect_fail dd if=/dev/zero of="$dev" bs=4K count=1 oflag=direct status=none
    dd if="$dev" of=/dev/null bs=4K count=64 iflag=direct status=none
    echo 0 >"$d/write_error_probability"; echo 100 >"$d/read_error_probability"
    expect_fail dd if="$dev" of=/dev/null bs=4K count=1 iflag=direct status=none
    dd if=/dev/zero of="$dev" bs=4K count=1 oflag=direct status=none
    echo 7 >"$d/random_seed"; echo 50 >"$d/read_error_probability"
    for i in $(seq 0 39); do
        if dd if="$dev" of=/dev/null bs=4K skip="$i" count=1 iflag=direct status=none 2>/dev/null; then
            ok=$((ok + 1))
        else
            bad=$((bad + 1))
        fi
    done
    echo "50%: $ok ok, $bad failed"
    [ "$ok" -gt 0 ] && [ "$bad" -gt 0 ] || fail "a 50% read error rate gave $ok ok, $bad failed"
    rsnull_cfs_clean
}

# Under memory pressure (page allocations failing) a write fails after a
# bounded number of retries instead of requeueing for ever.
test_memory_pressure_fails_writes() {
    local fpa=/sys/kernel/debug/fail_page_alloc rc=0 t0
    [ -d /sys/kernel/debug/fail_page_alloc ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
    [ -d $fpa ] || skip "no fail_page_alloc in this kernel"
    rsnull_cfs_clean
    rsnull_cfs_new m size=16 blocksize=4096
    local dev=$RSNULL_DEV
    echo 0 >$fpa/verbose; echo 1 >$fpa/interval; echo -1 >$fpa/times
    echo 1 >$fpa/ignore-gfp-wait; echo 0 >$fpa/min-order
    echo 100 >$fpa/probability
    t0=$SECONDS
    timeout 60 dd if=/dev/zero of="$dev" bs=64K count=4 oflag=direct status=none 2>/dev/null || rc=$?
    echo 0 >$fpa/probability
    echo "dd exited $rc after $((SECONDS - t0)) s"
    [ "$rc" -ne 124 ] || fail "the write hung under memory pressure"
    [ "$rc" -ne 0 ] || fail "the write succeeded although no page could be allocated"
    dmesg | grep -q "rsnull.*out of memory" || fail "no message about the failed write"
    dd if=/dev/zero of="$dev" bs=64K count=4 oflag=direct status=none || fail "write after the pressure"
    rsnull_cfs_clean
}

ktap_test "rsnull configfs create and remove" test_create_and_remove
ktap_test "rsnull configfs bad values refused" test_bad_values_refused
ktap_test "rsnull cache: flushed data survives a power cut, unflushed does not" test_cache_power_cut
ktap_test "rsnull no cache: every write durable" test_no_cache_everything_durable
ktap_test "rsnull cache full writes back its oldest pages" test_cache_full_writes_back
ktap_test "rsnull crash points" test_crash_points
ktap_test "rsnull badblocks" test_badblocks
ktap_test "rsnull error probability" test_error_probability
ktap_test "rsnull memory pressure fails writes" test_memory_pressure_fails_writes
