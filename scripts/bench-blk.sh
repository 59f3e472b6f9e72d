#!/usr/bin/env bash
# `make bench-blk`: rsnull against its peers (C null_blk with and without
# memory backing, the in-tree Rust rnull, brd) under the same fio workloads,
# all in one VM boot (scripts/bench-blk-guest.sh). Prints a table and, per
# workload, `RATIO <workload> rsnull/null_blk <x.xx>`: rsnull's IOPS over
# memory-backed null_blk's, the peer with the same job to do. Leaves
# results.csv, chart.png and the raw fio JSON in the output directory.
# A benchmark, not a test: there are no thresholds.
#
#   scripts/bench-blk.sh
#
#   KDIR           kernel build tree (default: the release kernel, which
#                  scripts/kernel.sh builds and caches on first use)
#   BENCH_OUT      output directory (default: bench-out/ in the checkout)
#   BENCH_RUNTIME  seconds per fio job (default 5)
#   BENCH_TIMEOUT  limit for the whole VM run in seconds (default 1800)
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$RSFS_TOP/scripts/bench-lib.sh"
cd "$RSFS_TOP"

bench_init
out=$BENCH_OUT
bench_clean results.csv chart.png chart-rand.dat chart-seq.dat

log "booting the VM; ${BENCH_RUNTIME}s per job, 30 jobs; console in $out/console.log"
bench_vm 3G "$RSFS_TOP/scripts/bench-blk-guest.sh" "$out" "$BENCH_RUNTIME"

csv=$out/results.csv
bench_csv device "$csv"
bench_header
bench_table DEVICE "$csv"
echo
bench_ratios "$csv" 3 rsnull null_blk

# The chart: 4 KiB random jobs in IOPS and 1 MiB sequential ones in MiB/s,
# side by side, one bar per device in each workload's cluster.
bench_chart_data "$csv" 3 1000 '^seq' nomatch >"$out/chart-rand.dat"
bench_chart_data "$csv" 4 1 '^seq' match >"$out/chart-seq.dat"
bench_chart "$out/chart.png" "rsnull and its peers, $(cut -d, -f1 "$out/guest.txt")$BENCH_DEBUG" \
    "$out/chart-rand.dat" 'thousand IOPS' '4 KiB random, iodepth 32' \
    "$out/chart-seq.dat" 'MiB/s' '1 MiB sequential, iodepth 8'

bench_footer "$csv" "$out/chart.png"
grep -q '^rsnull,' "$csv" || die "no results for rsnull"
