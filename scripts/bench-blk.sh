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
cd "$RSFS_TOP"

KDIR=${KDIR:-$(scripts/kernel.sh release)} || die "no kernel"
runtime=${BENCH_RUNTIME:-5}
case $runtime in '' | *[!0-9]* | 0) die "BENCH_RUNTIME must be a positive number of seconds" ;; esac
out=${BENCH_OUT:-$RSFS_TOP/bench-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

debug=""
if grep -q '^CONFIG_KASAN=y' "$KDIR/.config" 2>/dev/null; then
    debug=" (debug kernel)"
    log "warning: $KDIR is a debug kernel (KASAN, lockdep): the numbers say little"
fi
log "building modules against $KDIR"
make -s KDIR="$KDIR" modules

# Only what this script and the guest write: BENCH_OUT may hold other things.
rm -rf "$out/fio"
rm -f "$out"/{runs.tsv,notes.txt,fio.log,dmesg.log,guest.txt,finished,console.log} \
      "$out"/{results.csv,chart.png,chart-rand.dat,chart-seq.dat}
mkdir "$out/fio" && touch "$out/runs.tsv"

log "booting the VM; ${runtime}s per job, 30 jobs; console in $out/console.log"
# The guest's progress lines (env.sh's log format) are shown as they come.
set +e
scripts/vm.sh --kdir "$KDIR" --cpus 2 --memory 3G --rwdir "$out" \
        --timeout "${BENCH_TIMEOUT:-1800}" -- \
        "$RSFS_TOP/scripts/bench-blk-guest.sh" "$out" "$runtime" 2>&1 |
    tee "$out/console.log" | tr -d '\r' |
    grep -a --line-buffered -E '^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] ' >&2
vm_rc=${PIPESTATUS[0]}
set -e
if [ ! -f "$out/finished" ]; then
    tail -30 "$out/console.log" | sed 's/^/    /' >&2
    die "the VM did not finish the benchmark (exit $vm_rc); console log in $out/console.log"
fi

# runs.tsv -> results.csv: IOPS and MiB/s of each job, reads and writes
# together (every job does only one of them).
csv=$out/results.csv
echo "device,workload,iops,bw_mib_s" >"$csv"
while IFS=$'\t' read -r dev wl json; do
    # fio may print notes ahead of the JSON document.
    if ! vals=$(sed -n '/^{/,$p' "$out/$json" |
                jq -er '.jobs[0] | [.read.iops + .write.iops,
                                    (.read.bw_bytes + .write.bw_bytes) / 1048576] | @tsv') ||
       [ -z "$vals" ]; then
        echo "$dev: cannot parse $json" >>"$out/notes.txt"
        continue
    fi
    printf '%s\t%s\t%s\n' "$dev" "$wl" "$vals"
done <"$out/runs.tsv" | awk -F'\t' '{ printf "%s,%s,%.0f,%.1f\n", $1, $2, $3, $4 }' >>"$csv"

echo "# $(cat "$out/guest.txt")"
echo "# kernel tree $KDIR$debug"
awk -F, 'NR == 1 { printf "%-16s %-22s %12s %10s\n", "DEVICE", "WORKLOAD", "IOPS", "MiB/s"; next }
         { printf "%-16s %-22s %12s %10s\n", $1, $2, $3, $4 }' "$csv"
echo
awk -F, 'NR > 1 && !($2 in seen) { seen[$2] = 1; order[++n] = $2 }
         $1 == "rsnull" { rs[$2] = $3 }
         $1 == "null_blk" { nb[$2] = $3 }
         END {
             for (i = 1; i <= n; i++) {
                 w = order[i]
                 if ((w in rs) && nb[w] > 0) printf "RATIO %s rsnull/null_blk %.2f\n", w, rs[w] / nb[w]
                 else printf "RATIO %s rsnull/null_blk n/a\n", w
             }
         }' "$csv"

# The chart: 4 KiB random jobs in IOPS and 1 MiB sequential ones in MiB/s,
# side by side, one bar per device in each workload's cluster.
chart_data() { # FIELD(3=iops,4=MiB/s) SCALE MATCH(seq|rand) -> workload x device matrix
    awk -F, -v f="$1" -v scale="$2" -v kind="$3" '
        NR == 1 { next }
        ((kind == "seq") != ($2 ~ /^seq/)) { next }
        !($1 in dseen) { dseen[$1] = 1; dev[++nd] = $1 }
        !($2 in wseen) { wseen[$2] = 1; wl[++nw] = $2 }
        { v[$2, $1] = $f / scale }
        END {
            printf "workload"; for (j = 1; j <= nd; j++) printf "\t%s", dev[j]; printf "\n"
            for (i = 1; i <= nw; i++) {
                printf "%s", wl[i]
                for (j = 1; j <= nd; j++) printf "\t%s", ((wl[i], dev[j]) in v) ? v[wl[i], dev[j]] : "NaN"
                printf "\n"
            }
        }' "$csv"
}
chart_data 3 1000 rand >"$out/chart-rand.dat"
chart_data 4 1 seq >"$out/chart-seq.dat"

plot_panel() { # DATAFILE TITLE
    local cols
    cols=$(head -1 "$1" | awk -F'\t' '{ print NF }')
    if [ "$(wc -l <"$1")" -lt 2 ]; then
        echo "set title '$2: no data'; plot [0:1] [0:1] NaN notitle with lines"
    else
        echo "set title '$2'"
        echo "plot for [i=2:$cols] '$1' using i:xtic(1) title columnheader(i)"
    fi
}
if ! command -v gnuplot >/dev/null; then
    echo "gnuplot is not installed: no chart" >>"$out/notes.txt"
else
    if gnuplot -e 'set terminal pngcairo' 2>/dev/null; then
        term="pngcairo size 1500,700 noenhanced font 'sans,10'"
    else
        term="png size 1500,700 noenhanced"
    fi
    gnuplot <<EOF || echo "gnuplot failed: no chart" >>"$out/notes.txt"
set terminal $term
set output '$out/chart.png'
set datafile separator tab
set datafile missing 'NaN'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set xtics nomirror rotate by 15 right
set key below horizontal
set multiplot layout 1,2 title "rsnull and its peers, $(cut -d, -f1 "$out/guest.txt")$debug"
set ylabel 'thousand IOPS'
$(plot_panel "$out/chart-rand.dat" '4 KiB random, iodepth 32')
set ylabel 'MiB/s'
$(plot_panel "$out/chart-seq.dat" '1 MiB sequential, iodepth 8')
unset multiplot
EOF
fi

echo
if [ -s "$out/notes.txt" ]; then
    sed 's/^/NOTE: /' "$out/notes.txt"
fi
chart=""
if [ -f "$out/chart.png" ]; then chart=", $out/chart.png"; fi
echo "# results: $csv$chart; raw fio JSON in $out/fio"
grep -q '^rsnull,' "$csv" || die "no results for rsnull"
