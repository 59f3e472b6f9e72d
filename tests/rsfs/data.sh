#!/usr/bin/env bash
# rsfs: file data. Buffered, O_DIRECT and mmap writes read back identical
# after a remount and a module reload; fio with crc32c verification;
# unaligned O_DIRECT; sparse files and SEEK_DATA/SEEK_HOLE; truncation;
# fsync and fdatasync reaching the device; concurrent writers; appends;
# overwrites in place; files with many extents.
#
# Data is written with `rsfs-testutil pwrite FILE OFFSET LEN SEED`, whose
# bytes depend on SEED and on the absolute file offset, and checked with
# `rsfs-testutil verify` (seed `zero` for holes): data in the wrong place,
# stale data and lost data all fail.
#
# Every test starts on a fresh mkfs.rsfs, mounted, and ends with the
# filesystem unmounted and `fsck.rsfs -n` clean (tests/lib/rsfs.sh).
# shellcheck source-path=SCRIPTDIR source=../lib/rsfs.sh
. "$(dirname "$0")/../lib/rsfs.sh"

# check_ranges FILE SIZE [OFFSET LEN SEED]...: the file has SIZE bytes and
# each range holds its pattern. Checked as cached, after dropping the page
# cache, after a remount and after rmmod/insmod of rsfs.
check_ranges_now() {
    local f=$1 bytes=$2; shift 2
    "$TU" verify --size "$bytes" "$f" "$@"
}

check_ranges_everywhere() {
    check_ranges_now "$@"
    drop_caches
    check_ranges_now "$@"
    rsfs_remount
    check_ranges_now "$@"
    rsfs_reload
    check_ranges_now "$@"
}

test_buffered_persist() {
    random_file /tmp/src4 4
    head -c 12345 /dev/urandom >/tmp/odd
    cp /tmp/src4 "$M/big"
    cp /tmp/odd "$M/odd"
    "$TU" pwrite "$M/pat" 0 3M 1
    "$TU" pwrite "$M/pat" 3M 5000 2
    cmp /tmp/src4 "$M/big"
    check_one() {
        cmp /tmp/src4 "$M/big" || fail "4 MiB file differs ($1)"
        cmp /tmp/odd "$M/odd" || fail "12345-byte file differs ($1)"
        check_ranges_now "$M/pat" $(( (3 << 20) + 5000 )) 0 3M 1 3M 5000 2
    }
    check_one cached
    drop_caches
    check_one "after dropping caches"
    rsfs_remount
    check_one "after remount"
    rsfs_reload
    check_one "after rmmod/insmod"
}

test_direct_io() {
    local f=$M/d
    "$TU" pwrite --direct "$f" 0 2M 11
    "$TU" verify --direct "$f" 0 2M 11
    "$TU" verify "$f" 0 2M 11
    # A buffered write, not yet written back, is seen by a direct read.
    "$TU" pwrite "$f" 64K 64K 12
    "$TU" verify --direct "$f" 64K 64K 12
    # A direct write over cached pages is seen by a buffered read.
    "$TU" verify "$f" 1M 64K 11
    "$TU" pwrite --direct "$f" 1M 64K 13
    "$TU" verify "$f" 1M 64K 13
    # A direct write past the end extends the file over a hole.
    "$TU" pwrite --direct "$f" 3M 64K 14
    # dd with O_DIRECT both ways.
    random_file /tmp/src2 2
    dd if=/tmp/src2 of="$M/dd" bs=64k oflag=direct status=none
    cmp /tmp/src2 <(dd if="$M/dd" bs=64k iflag=direct status=none) || fail "dd O_DIRECT round trip"
    check_ranges_everywhere "$f" $(( (3 << 20) + (64 << 10) )) \
        0 64K 11  64K 64K 12  128K 896K 11  1M 64K 13  1088K 960K 11  2M 1M zero  3M 64K 14
    cmp /tmp/src2 "$M/dd" || fail "dd O_DIRECT file after reload"
}

test_mmap() {
    # Over data already on disk, at an unaligned offset.
    "$TU" pwrite "$M/m" 0 1M 21
    sync -f "$M"
    "$TU" pwrite --mmap "$M/m" 100K 200K 22
    "$TU" verify --mmap "$M/m" 0 1M 21 2>/dev/null && fail "mmap write not visible"
    # Into holes of a sparse file: the page fault has to allocate.
    truncate -s 4M "$M/sparse"
    "$TU" pwrite --mmap "$M/sparse" $(( (2 << 20) + 100 )) 5000 23
    "$TU" pwrite --mmap "$M/sparse" 0 4K 24
    # A new file extended to a size that is not a page multiple, never
    # msync'd: umount must write it back.
    "$TU" pwrite --mmap --no-msync "$M/new" 0 300000 25
    "$TU" verify --mmap "$M/new" 0 300000 25
    check_ranges_everywhere "$M/m" $((1 << 20)) 0 100K 21 100K 200K 22 300K 724K 21
    check_ranges_now "$M/sparse" $((4 << 20)) 0 4K 24 4K $(( (2 << 20) + 100 - 4096 )) zero \
        $(( (2 << 20) + 100 )) 5000 23 $(( (2 << 20) + 5100 )) $(( (2 << 20) - 5100 )) zero
    check_ranges_now "$M/new" 300000 0 300000 25
}

# fio_verify_job NAME: run the job file /tmp/NAME.fio (write and verify),
# remount, then run it again with verify_only=1 (read back and verify).
fio_verify_job() {
    local job=/tmp/$1.fio
    cat "$job"
    fio --output=/tmp/fio.out "$job" || { cat /tmp/fio.out; fail "fio $1 failed"; }
    rsfs_remount
    sed 's/^\[global\]$/[global]\nverify_only=1/' "$job" >"$job.verify"
    fio --output=/tmp/fio.out "$job.verify" || { cat /tmp/fio.out; fail "fio $1 verify after remount failed"; }
}

fio_global() {
    cat <<EOF
[global]
directory=$M
rw=randwrite
bsrange=4k-64k
blockalign=4k
verify=crc32c
verify_fatal=1
verify_state_save=0
EOF
}

test_fio() {
    local kind=$1
    {
        fio_global
        case $kind in
        buffered)
            printf '[buffered]\nioengine=psync\nsize=4M\nnumjobs=2\nfsync=16\n' ;;
        direct-libaio)
            printf '[libaio]\nioengine=libaio\ndirect=1\niodepth=8\nsize=4M\nnumjobs=2\n' ;;
        direct-psync)
            printf '[dpsync]\nioengine=psync\ndirect=1\nsize=4M\n' ;;
        mixed)
            # Buffered and direct writers in two halves of one (sparse) file,
            # and an mmap writer on another file, all at once.
            truncate -s 4M "$M/mixed"
            printf '[buf]\nfilename=mixed\nioengine=psync\noffset=0\nsize=2M\n'
            printf '[dio]\nfilename=mixed\nioengine=libaio\ndirect=1\niodepth=4\noffset=2M\nsize=2M\n'
            printf '[map]\nfilename=mapped\nioengine=mmap\nsize=2M\n' ;;
        esac
    } >"/tmp/$kind.fio"
    fio_verify_job "$kind"
}

# O_DIRECT at offsets or lengths not aligned to the 4 KiB logical block:
# either refused with EINVAL, or done right. Either way the data is right.
test_unaligned_direct() {
    local off len out i=0
    for off_len in 100:4096 512:4096 4096:1000 4608:512 8192:4097; do
        off=${off_len%:*} len=${off_len#*:} i=$((i + 1))
        "$TU" pwrite "$M/u$i" 0 64K 31
        if out=$("$TU" pwrite --direct "$M/u$i" "$off" "$len" 32 2>&1); then
            echo "O_DIRECT write at $off+$len: done"
            echo "$off $len 32" >"/tmp/u$i"
        else
            grep -qw EINVAL <<<"$out" || fail "O_DIRECT write at $off+$len: $out"
            echo "O_DIRECT write at $off+$len: EINVAL"
            echo "$off $len 31" >"/tmp/u$i"
        fi
    done
    check_u() {
        local j o l s
        for j in $(seq 1 $i); do
            read -r o l s <"/tmp/u$j"
            check_ranges_now "$M/u$j" 65536 0 "$o" 31 "$o" "$l" "$s" $((o + l)) $((65536 - o - l)) 31
        done
    }
    check_u
    # Unaligned O_DIRECT reads: EINVAL or the right bytes.
    for off_len in 100:4096 4096:100; do
        off=${off_len%:*} len=${off_len#*:}
        if ! out=$(dd if="$M/u3" iflag=direct,skip_bytes,count_bytes skip="$off" count="$len" bs=8192 status=none 2>&1 >/tmp/ud); then
            grep -q "Invalid argument" <<<"$out" || fail "O_DIRECT read at $off+$len: $out"
        else
            cmp /tmp/ud <(dd if="$M/u3" iflag=skip_bytes,count_bytes skip="$off" count="$len" bs=8192 status=none) ||
                fail "O_DIRECT read at $off+$len returned wrong data"
        fi
    done
    drop_caches
    check_u
    rsfs_remount
    check_u
}

# SEEK_DATA/SEEK_HOLE on FILE (4 KiB of data at 0 and at 1 MiB, size 2 MiB).
# A filesystem may report holes exactly, or report the whole file as data
# with one hole at EOF (the generic answer); nothing else is right.
check_seek() {
    local f=$1 h
    h=$("$TU" seek "$f" hole 0)
    case $h in
    4096)
        assert_eq "$("$TU" seek "$f" data 0)" 0 "SEEK_DATA 0"
        assert_eq "$("$TU" seek "$f" data 4096)" $((1 << 20)) "SEEK_DATA from the first hole"
        assert_eq "$("$TU" seek "$f" data 5000)" $((1 << 20)) "SEEK_DATA from inside the first hole"
        assert_eq "$("$TU" seek "$f" hole $((1 << 20)))" $(( (1 << 20) + 4096 )) "SEEK_HOLE from the second extent"
        assert_eq "$("$TU" seek "$f" data $(( (1 << 20) + 4096 )))" ENXIO "SEEK_DATA in the trailing hole"
        assert_eq "$("$TU" seek "$f" hole $(( (2 << 20) - 1 )))" $(( (2 << 20) - 1 )) "SEEK_HOLE in the trailing hole"
        ;;
    $((2 << 20)))
        echo "SEEK_HOLE: the generic answer (all data, hole at EOF)"
        assert_eq "$("$TU" seek "$f" data 5000)" 5000 "SEEK_DATA (generic)"
        assert_eq "$("$TU" seek "$f" hole $((1 << 20)))" $((2 << 20)) "SEEK_HOLE (generic)"
        assert_eq "$("$TU" seek "$f" hole $(( (2 << 20) - 1 )))" $((2 << 20)) "SEEK_HOLE before EOF (generic)"
        ;;
    *) fail "SEEK_HOLE from 0 gave $h: neither the first hole (4096) nor EOF" ;;
    esac
    assert_eq "$("$TU" seek "$f" data $((2 << 20)))" ENXIO "SEEK_DATA at EOF"
    assert_eq "$("$TU" seek "$f" hole $((2 << 20)))" ENXIO "SEEK_HOLE at EOF"
}

test_sparse() {
    local f=$M/sparse
    "$TU" pwrite "$f" 0 4K 41
    "$TU" pwrite "$f" 1M 4K 42
    truncate -s 2M "$f"
    check_sparse() {
        check_ranges_now "$f" $((2 << 20)) 0 4K 41 4K 1020K zero 1M 4K 42 $(( (1 << 20) + 4096 )) 1020K zero
        # Holes within a block: bytes 0-99 and 110-9999 were never written.
        check_ranges_now "$M/g" 10010 0 100 zero 100 10 43 110 9890 zero 10000 10 44
        check_seek "$f"
    }
    "$TU" pwrite "$M/g" 100 10 43
    "$TU" pwrite "$M/g" 10000 10 44
    echo "before writeback:"
    check_sparse
    sync -f "$M"
    echo "after writeback:"
    check_sparse
    # Allocated space is what was written, not the apparent size.
    head -c 1M /dev/urandom >"$M/full"
    sync -f "$M"
    du -B1 --apparent-size "$f"; du -B1 "$f"; ls -l "$f"
    assert_le "$(du -B1 "$f" | cut -f1)" $((1 << 20)) "du of a 2 MiB file with 8 KiB of data"
    assert_ge "$(du -B1 "$f" | cut -f1)" 8192 "du of a file with 8 KiB of data"
    assert_ge "$(du -B1 "$M/full" | cut -f1)" $((1 << 20)) "du of a 1 MiB file"
    rsfs_remount
    echo "after remount:"
    check_sparse
    assert_le "$(du -B1 "$f" | cut -f1)" $((1 << 20)) "du of the sparse file after remount"
    # Filling a hole keeps the data around it and the holes elsewhere.
    "$TU" pwrite "$f" 512K 8K 45
    rsfs_remount
    check_ranges_now "$f" $((2 << 20)) 0 4K 41 4K 508K zero 512K 8K 45 520K 504K zero 1M 4K 42
}

test_truncate() {
    # a: to zero; the blocks are freed.
    local bfree
    keep_root_block
    bfree=$(rsfs_bfree_synced)
    "$TU" pwrite "$M/a" 0 1M 51
    sync -f "$M"
    truncate -s 0 "$M/a"
    assert_eq "$(stat -c %s "$M/a")" 0 "size after truncate to 0"
    assert_eq "$(rsfs_bfree_synced)" "$bfree" "free blocks after truncating 1 MiB to 0"
    assert_eq "$(stat -c %b "$M/a")" 0 "blocks of a file truncated to 0"
    # b: down to mid-block, then up again: the old tail must read as zeros,
    # whether it was only cached (b) or already on disk (b2).
    "$TU" pwrite "$M/b" 0 12288 53
    "$TU" pwrite "$M/b2" 0 12288 53
    sync -f "$M"
    truncate -s 5000 "$M/b"
    truncate -s 5000 "$M/b2"
    truncate -s 12288 "$M/b"
    "$TU" pwrite "$M/b2" 12288 10 57
    check_ranges_now "$M/b" 12288 0 5000 53 5000 7288 zero
    check_ranges_now "$M/b2" 12298 0 5000 53 5000 7288 zero 12288 10 57
    # c: up, creating a hole.
    "$TU" pwrite "$M/c" 0 4K 54
    truncate -s 1M "$M/c"
    # d: down, then a write past the new end.
    "$TU" pwrite "$M/d" 0 10000 55
    sync -f "$M"
    truncate -s 6000 "$M/d"
    "$TU" pwrite "$M/d" 20000 100 56
    # e: to zero, then written again.
    "$TU" pwrite "$M/e" 0 64K 58
    truncate -s 0 "$M/e"
    "$TU" pwrite "$M/e" 0 8K 59
    check_all() {
        check_ranges_now "$M/a" 0
        check_ranges_now "$M/b" 12288 0 5000 53 5000 7288 zero
        check_ranges_now "$M/b2" 12298 0 5000 53 5000 7288 zero 12288 10 57
        check_ranges_now "$M/c" $((1 << 20)) 0 4K 54 4K 1020K zero
        check_ranges_now "$M/d" 20100 0 6000 55 6000 14000 zero 20000 100 56
        check_ranges_now "$M/e" 8192 0 8K 59
    }
    check_all
    drop_caches
    check_all
    rsfs_remount
    check_all
    rsfs_reload
    check_all
}

# fsync and fdatasync succeed, and what they wrote is on the device while
# the filesystem is still mounted: a copy of the device, read with O_DIRECT,
# has the files when read by the tools' own rsfs reader.
test_fsync() {
    "$TU" pwrite --fsync "$M/f1" 0 256K 61
    "$TU" pwrite --fdatasync "$M/f2" 0 300000 62
    random_file /tmp/src1 1
    dd if=/tmp/src1 of="$M/f3" bs=64k conv=fsync status=none
    dd if=/tmp/src1 of="$M/f4" bs=64k conv=fdatasync status=none
    "$TU" pwrite "$M/f5" 0 100K 63
    sync "$M/f5"
    sync -d "$M/f5"
    # An overwrite of one block of a clean file, then fsync.
    "$TU" pwrite --fsync "$M/f1" 64K 4K 64
    dd if="$RSFS_DEV" of=/tmp/snap.img bs=1M count=16 iflag=direct status=none
    "$TU" pwrite /tmp/e1 0 256K 61
    "$TU" pwrite /tmp/e1 64K 4K 64
    "$TU" pwrite /tmp/e2 0 300000 62
    "$TU" pwrite /tmp/e5 0 100K 63
    cmp /tmp/e1 <("$TU" image-cat /tmp/snap.img /f1) || fail "fsync'd f1 not on the device"
    cmp /tmp/e2 <("$TU" image-cat /tmp/snap.img /f2) || fail "fdatasync'd f2 not on the device"
    cmp /tmp/src1 <("$TU" image-cat /tmp/snap.img /f3) || fail "dd conv=fsync f3 not on the device"
    cmp /tmp/src1 <("$TU" image-cat /tmp/snap.img /f4) || fail "dd conv=fdatasync f4 not on the device"
    cmp /tmp/e5 <("$TU" image-cat /tmp/snap.img /f5) || fail "sync FILE f5 not on the device"
    rm -f /tmp/snap.img
    rsfs_remount
    cmp /tmp/e1 "$M/f1"
    cmp /tmp/e2 "$M/f2"
    cmp /tmp/src1 "$M/f3"
    cmp /tmp/src1 "$M/f4"
    cmp /tmp/e5 "$M/f5"
}

test_concurrent_writers() {
    local pids=() i rc=0
    truncate -s 4M "$M/shared"
    for i in 0 1 2 3; do
        "$TU" pwrite "$M/own$i" 0 1M $((70 + i)) &
        pids+=($!)
        if [ $((i % 2)) -eq 0 ]; then
            "$TU" pwrite "$M/shared" "${i}M" 1M $((80 + i)) &
        else
            "$TU" pwrite --direct "$M/shared" "${i}M" 1M $((80 + i)) &
        fi
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || rc=$?; done
    [ "$rc" -eq 0 ] || fail "a writer failed ($rc)"
    check_writers() {
        for i in 0 1 2 3; do check_ranges_now "$M/own$i" $((1 << 20)) 0 1M $((70 + i)); done
        check_ranges_now "$M/shared" $((4 << 20)) 0 1M 80 1M 1M 81 2M 1M 82 3M 1M 83
    }
    check_writers
    drop_caches
    check_writers
    rsfs_remount
    check_writers
}

test_append() {
    local off=0 i n src
    # Sequential appends (O_APPEND, from bash's own printf: no exec per
    # append) of odd sizes build the same bytes as the source.
    src=$(head -c 75000 /dev/urandom | base64 -w0)
    for i in $(seq 1 30); do
        n=$(( (i * 997) % 5000 + 1 ))
        printf '%s' "${src:off:n}" >>"$M/app"
        off=$((off + n))
    done
    printf '%s' "${src:0:off}" >/tmp/app.want
    cmp /tmp/app.want "$M/app" || fail "appended file differs"
    # Four writers appending 700-byte records with O_APPEND at once: every
    # record lands whole, once, after the others.
    local pids=()
    for i in 0 1 2 3; do
        "$TU" append-records "$M/log" "$i" 200 700 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    "$TU" check-records "$M/log" 4 200 700
    rsfs_remount
    cmp /tmp/app.want "$M/app" || fail "appended file differs after remount"
    "$TU" check-records "$M/log" 4 200 700
}

# Overwriting allocated data in place (buffered, direct, mmap) allocates
# nothing and keeps everything around it.
test_overwrite_in_place() {
    local bfree
    "$TU" pwrite "$M/o" 0 2M 91
    bfree=$(rsfs_bfree_synced)
    "$TU" pwrite "$M/o" 100000 300000 92
    "$TU" pwrite --direct "$M/o" 1M 256K 93
    "$TU" pwrite --mmap "$M/o" 1572874 5000 94
    assert_eq "$(rsfs_bfree_synced)" "$bfree" "free blocks after overwriting in place"
    check_ranges_everywhere "$M/o" $((2 << 20)) 0 100000 91 100000 300000 92 400000 648576 91 \
        1M 256K 93 1310720 262154 91 1572874 5000 94 1577874 519278 91
    assert_eq "$(rsfs_bfree_synced)" "$bfree" "free blocks after remount"
}

# Every other block written: each is its own extent, more than fit in the
# inode, so the extent list overflows into blocks. Then the holes are
# filled, the file is truncated in the middle of its extents and removed.
test_many_extents() {
    local i bfree written=() holes=() filled=()
    keep_root_block
    bfree=$(rsfs_bfree_synced)
    # One process per batch of writes or checks (an exec is dear in the VM);
    # each write is still its own pwrite(2), each check its own range.
    for i in $(seq 0 2 94); do written+=($((i * 4096)) 4K $((1000 + i))); done
    for i in $(seq 1 2 93); do holes+=($((i * 4096)) 4K zero); filled=($((i * 4096)) 4K 7 "${filled[@]}"); done
    "$TU" pwrite "$M/x" "${written[@]}"
    check_x() { "$TU" verify "$M/x" "${written[@]}" "$@"; }
    check_x "${holes[@]}"
    rsfs_remount
    check_x "${holes[@]}"
    # Fill the holes from the end backwards.
    "$TU" pwrite "$M/x" "${filled[@]}"
    check_x "${filled[@]}"
    rsfs_remount
    check_x "${filled[@]}"
    truncate -s $((31 * 4096 + 100)) "$M/x"
    "$TU" verify --size $((31 * 4096 + 100)) "$M/x" 0 4K 1000 $((30 * 4096)) 4K 1030 $((31 * 4096)) 100 7
    rsfs_remount
    "$TU" verify "$M/x" $((30 * 4096)) 4K 1030
    rm "$M/x"
    assert_eq "$(rsfs_bfree_synced)" "$bfree" "free blocks after removing the file"
}

suite() {
    rsfs_test buffered-persist test_buffered_persist
    rsfs_test direct-io test_direct_io
    rsfs_test mmap test_mmap
    local kind
    for kind in buffered direct-libaio direct-psync mixed; do
        rsfs_test "fio-verify-$kind" test_fio "$kind"
    done
    rsfs_test unaligned-direct test_unaligned_direct
    rsfs_test sparse test_sparse
    rsfs_test truncate test_truncate
    rsfs_test --mkfs "--size 16M" fsync test_fsync
    rsfs_test concurrent-writers test_concurrent_writers
    rsfs_test append test_append
    rsfs_test overwrite-in-place test_overwrite_in_place
    rsfs_test many-extents test_many_extents
}

rsfs_for_each_mode suite
