#!/usr/bin/env bash
# `make bench-fs`: rsfs (writeback=folio and writeback=iomap) against ext4,
# xfs and f2fs under the same fio workloads, each filesystem on its own
# fresh memory-backed rsnull disk, all in one VM boot
# (scripts/bench-fs-guest.sh), workload by workload. Prints a table and, per workload and peer,
# `RATIO <workload> rsfs-folio/<peer> <x.xx>`: rsfs-folio's IOPS over the
# peer's (the same ratio as for MiB/s: each workload has one block size).
# Leaves fs-results.csv and fs-chart.png in the output directory, and the
# raw fio JSON, logs and notes in its fs/ subdirectory. A workload that
# fails, hangs or makes the kernel log a BUG/WARNING/Oops is reported as
# FAILED (why: in the NOTE lines). A benchmark, not a test: there are no
# thresholds.
#
#   scripts/bench-fs.sh
#
#   KDIR               kernel build tree (default: the release kernel, which
#                      scripts/kernel.sh builds and caches on first use)
#   BENCH_OUT          output directory (default: bench-out/ in the checkout)
#   BENCH_RUNTIME      seconds of the time-based job, O_DIRECT random
#                      writes (default 5); the others have a fixed size
#   BENCH_JOB_TIMEOUT  limit for each fio run in seconds (default 180)
#   BENCH_TIMEOUT      limit for the whole VM run in seconds (default 1800)
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$RSFS_TOP/scripts/bench-lib.sh"
cd "$RSFS_TOP"

job_limit=${BENCH_JOB_TIMEOUT:-180}
case $job_limit in '' | *[!0-9]* | 0) die "BENCH_JOB_TIMEOUT must be a positive number of seconds" ;; esac
bench_init
log "building mkfs.rsfs and fsck.rsfs"
(cd tools && cargo build --release --quiet)
out=$BENCH_OUT
BENCH_RUN=$out/fs
rm -rf "$BENCH_RUN"
bench_clean fs-results.csv fs-chart.png

log "booting the VM; 6 workloads x 5 filesystems; console in $BENCH_RUN/console.log"
# 6 GiB: the five 1 GiB disks are all in use until the end, and rsnull
# keeps every block written until it is discarded.
bench_vm 6G "$RSFS_TOP/scripts/bench-fs-guest.sh" "$BENCH_RUN" "$BENCH_RUNTIME" "$job_limit"

csv=$out/fs-results.csv
bench_csv fs "$csv" %.1f %.2f
bench_header
bench_table FILESYSTEM "$csv"
echo
bench_ratios "$csv" 3 rsfs-folio rsfs-iomap ext4 xfs f2fs

# The chart: sequential workloads in MiB/s, the 4 KiB ones in IOPS (files/s
# for create), one bar per filesystem in each workload's cluster.
bench_chart_data "$csv" 4 1 '^seq' match >"$BENCH_RUN/chart-seq.dat"
bench_chart_data "$csv" 3 1 '^seq' nomatch >"$BENCH_RUN/chart-4k.dat"
bench_chart "$out/fs-chart.png" "rsfs and its peers on rsnull, $(cut -d, -f1 "$BENCH_RUN/guest.txt")$BENCH_DEBUG" \
    "$BENCH_RUN/chart-seq.dat" 'MiB/s' 'sequential, 1 MiB (fsync at the end of writes)' \
    "$BENCH_RUN/chart-4k.dat" 'IOPS' '4 KiB: buffered random, O_DIRECT random QD16, file creates'

bench_footer "$csv" "$out/fs-chart.png"
grep -q '^rsfs-folio,' "$csv" || die "no results for rsfs-folio"
