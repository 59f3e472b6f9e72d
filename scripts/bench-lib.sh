# shellcheck shell=bash
# What the benchmarks share (`make bench-blk`, `make bench-fs`). Source it
# after env.sh; it only defines functions.
#
# The shape of a benchmark: the host script builds the modules, boots the
# release kernel once (bench_vm) and runs a guest script in it, which writes
# into the run directory BENCH_RUN (BENCH_OUT itself unless the script sets
# another). The guest only measures: each fio job writes its JSON to fio/
# and a line to runs.tsv, `NAME<TAB>WORKLOAD<TAB>fio/FILE.json` (or `FAILED`
# in place of the file for a job that failed or timed out); problems go to
# notes.txt, the kernel log to dmesg.log, and `finished` marks the end. The
# host turns runs.tsv into a CSV (bench_csv), prints it (bench_table,
# bench_ratios) and draws a chart (bench_chart_data, bench_chart).
#
# Host settings, read by bench_init:
#   KDIR           kernel build tree (default: the release kernel, which
#                  scripts/kernel.sh builds and caches on first use)
#   BENCH_OUT      output directory (default: bench-out/ in the checkout)
#   BENCH_RUNTIME  seconds per time-based fio job (default 5)
#   BENCH_TIMEOUT  limit for the whole VM run in seconds (default 1800)

# ---- host -------------------------------------------------------------------

# bench_init: sets KDIR, BENCH_RUNTIME, BENCH_OUT (absolute), BENCH_RUN (=
# BENCH_OUT) and BENCH_DEBUG (" (debug kernel)" or ""), then builds the
# modules against KDIR (run it from RSFS_TOP).
bench_init() {
    KDIR=${KDIR:-$("$RSFS_TOP/scripts/kernel.sh" release)} || die "no kernel"
    BENCH_RUNTIME=${BENCH_RUNTIME:-5}
    case $BENCH_RUNTIME in '' | *[!0-9]* | 0) die "BENCH_RUNTIME must be a positive number of seconds" ;; esac
    BENCH_OUT=${BENCH_OUT:-$RSFS_TOP/bench-out}
    mkdir -p "$BENCH_OUT"
    BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
    BENCH_RUN=$BENCH_OUT

    BENCH_DEBUG=""
    if grep -q '^CONFIG_KASAN=y' "$KDIR/.config" 2>/dev/null; then
        BENCH_DEBUG=" (debug kernel)"
        log "warning: $KDIR is a debug kernel (KASAN, lockdep): the numbers say little"
    fi
    log "building modules against $KDIR"
    make -s KDIR="$KDIR" modules
}

# bench_clean FILE...: removes what the guest writes in BENCH_RUN, and
# FILE... (relative to BENCH_OUT), then makes an empty fio/ and runs.tsv.
# Only those: BENCH_OUT may hold other things (the other benchmark's
# results among them).
bench_clean() {
    local f
    mkdir -p "$BENCH_RUN"
    rm -rf "$BENCH_RUN/fio"
    rm -f "$BENCH_RUN"/{runs.tsv,notes.txt,fio.log,dmesg.log,guest.txt,finished,console.log}
    for f in "$@"; do rm -f "$BENCH_OUT/$f"; done
    mkdir "$BENCH_RUN/fio" && touch "$BENCH_RUN/runs.tsv"
}

# bench_vm MEMORY GUEST-CMD...: boots KDIR once (2 CPUs, BENCH_RUN writable)
# and runs the guest command, showing its progress lines (env.sh's log
# format) as they come; the whole console goes to BENCH_RUN/console.log.
# Dies if the guest did not write BENCH_RUN/finished.
bench_vm() {
    local memory=$1 vm_rc; shift
    set +e
    "$RSFS_TOP/scripts/vm.sh" --kdir "$KDIR" --cpus 2 --memory "$memory" --rwdir "$BENCH_RUN" \
            --timeout "${BENCH_TIMEOUT:-1800}" -- "$@" 2>&1 |
        tee "$BENCH_RUN/console.log" | stdbuf -oL tr -d '\r' |
        grep -a --line-buffered -E '^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] ' >&2
    vm_rc=${PIPESTATUS[0]}
    set -e
    if [ ! -f "$BENCH_RUN/finished" ]; then
        tail -30 "$BENCH_RUN/console.log" | sed 's/^/    /' >&2
        die "the VM did not finish the benchmark (exit $vm_rc); console log in $BENCH_RUN/console.log"
    fi
}

# bench_csv FIRST-COLUMN CSV [IOPS-FORMAT MIBS-FORMAT]: runs.tsv -> CSV
# with the header `FIRST-COLUMN,workload,iops,bw_mib_s`: IOPS and MiB/s of
# each job (printf formats, default %.0f and %.1f), reads and writes
# together (every job does only one of them). A job the guest marked
# FAILED gets `failed` in both; one whose JSON does not parse, a note.
bench_csv() {
    local csv=$2 fmt="${3:-%.0f},${4:-%.1f}" name wl json vals
    echo "$1,workload,iops,bw_mib_s" >"$csv"
    while IFS=$'\t' read -r name wl json; do
        if [ "$json" = FAILED ]; then
            printf '%s\t%s\tfailed\tfailed\n' "$name" "$wl"
            continue
        fi
        # fio may print notes ahead of the JSON document.
        if ! vals=$(sed -n '/^{/,$p' "$BENCH_RUN/$json" |
                    jq -er '.jobs[0] | [.read.iops + .write.iops,
                                        (.read.bw_bytes + .write.bw_bytes) / 1048576] | @tsv') ||
           [ -z "$vals" ]; then
            echo "$name: cannot parse $json" >>"$BENCH_RUN/notes.txt"
            continue
        fi
        printf '%s\t%s\t%s\n' "$name" "$wl" "$vals"
    done <"$BENCH_RUN/runs.tsv" |
        awk -F'\t' -v fmt="%s,%s,$fmt\n" '
            $3 == "failed" { printf "%s,%s,failed,failed\n", $1, $2; next }
            { printf fmt, $1, $2, $3, $4 }' >>"$csv"
}

# bench_header: the guest's and the kernel's description, as comments.
bench_header() {
    echo "# $(cat "$BENCH_RUN/guest.txt")"
    echo "# kernel tree $KDIR$BENCH_DEBUG"
}

# bench_table LABEL CSV: the CSV as a table, LABEL heading the first column.
bench_table() {
    awk -F, -v label="$1" '
        NR == 1 { printf "%-16s %-22s %12s %10s\n", label, "WORKLOAD", "IOPS", "MiB/s"; next }
        $3 == "failed" { $3 = $4 = "FAILED" }
        { printf "%-16s %-22s %12s %10s\n", $1, $2, $3, $4 }' "$2"
}

# bench_ratios CSV FIELD BASE PEER...: per workload (in the CSV's order) and
# peer, `RATIO <workload> BASE/PEER <x.xx>`: BASE's FIELD (3 = IOPS,
# 4 = MiB/s) over PEER's; `n/a` when either is missing, failed or zero.
bench_ratios() {
    local csv=$1 field=$2 base=$3; shift 3
    awk -F, -v f="$field" -v base="$base" -v peers="$*" '
        NR == 1 { next }
        !($2 in seen) { seen[$2] = 1; order[++n] = $2 }
        $3 != "failed" { v[$1, $2] = $f }
        END {
            np = split(peers, peer, " ")
            for (i = 1; i <= n; i++) {
                w = order[i]
                for (j = 1; j <= np; j++) {
                    p = peer[j]
                    if (((base, w) in v) && v[p, w] > 0)
                        printf "RATIO %s %s/%s %.2f\n", w, base, p, v[base, w] / v[p, w]
                    else
                        printf "RATIO %s %s/%s n/a\n", w, base, p
                }
            }
        }' "$csv"
}

# bench_chart_data CSV FIELD SCALE REGEX match|nomatch: the workloads whose
# name matches (or does not match) REGEX as a workload x name matrix of
# FIELD / SCALE, tab-separated with a header row; NaN where there is no value.
bench_chart_data() {
    awk -F, -v f="$2" -v scale="$3" -v re="$4" -v want="$5" '
        NR == 1 { next }
        (($2 ~ re) != (want == "match")) { next }
        !($1 in dseen) { dseen[$1] = 1; dev[++nd] = $1 }
        !($2 in wseen) { wseen[$2] = 1; wl[++nw] = $2 }
        $f != "failed" { v[$2, $1] = $f / scale }
        END {
            printf "workload"; for (j = 1; j <= nd; j++) printf "\t%s", dev[j]; printf "\n"
            for (i = 1; i <= nw; i++) {
                printf "%s", wl[i]
                for (j = 1; j <= nd; j++) printf "\t%s", ((wl[i], dev[j]) in v) ? v[wl[i], dev[j]] : "NaN"
                printf "\n"
            }
        }' "$1"
}

# The gnuplot commands for one panel of a chart.
bench_plot_panel() { # DATAFILE TITLE
    local cols
    cols=$(head -1 "$1" | awk -F'\t' '{ print NF }')
    if [ "$(wc -l <"$1")" -lt 2 ]; then
        echo "set title '$2: no data'; plot [0:1] [0:1] NaN notitle with lines"
    else
        echo "set title '$2'"
        echo "plot for [i=2:$cols] '$1' using i:xtic(1) title columnheader(i)"
    fi
}

# bench_chart PNG TITLE DATAFILE YLABEL PANEL-TITLE [DATAFILE YLABEL PANEL-TITLE...]:
# clustered bar charts side by side, one bar per name in each workload's
# cluster. Without gnuplot, or if it fails, a note instead.
bench_chart() {
    local png=$1 title=$2 term panels="" n=0; shift 2
    if ! command -v gnuplot >/dev/null; then
        echo "gnuplot is not installed: no chart" >>"$BENCH_RUN/notes.txt"
        return 0
    fi
    while [ $# -ge 3 ]; do
        panels+="set ylabel '$2'"$'\n'"$(bench_plot_panel "$1" "$3")"$'\n'
        n=$((n + 1)); shift 3
    done
    if gnuplot -e 'set terminal pngcairo' 2>/dev/null; then
        term="pngcairo size 1500,700 noenhanced font 'sans,10'"
    else
        term="png size 1500,700 noenhanced"
    fi
    gnuplot <<EOF || echo "gnuplot failed: no chart" >>"$BENCH_RUN/notes.txt"
set terminal $term
set output '$png'
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
set multiplot layout 1,$n title "$title"
${panels}unset multiplot
EOF
}

# bench_footer CSV [PNG]: the notes, and where the results are.
bench_footer() {
    local chart=""
    echo
    if [ -s "$BENCH_RUN/notes.txt" ]; then
        sed 's/^/NOTE: /' "$BENCH_RUN/notes.txt"
    fi
    if [ -n "${2:-}" ] && [ -f "$2" ]; then chart=", $2"; fi
    echo "# results: $1$chart; raw fio JSON in $BENCH_RUN/fio"
}

# ---- guest ------------------------------------------------------------------
# The guest scripts set OUT (the shared output directory) and source
# tests/lib/ktap.sh for KTAP_KLOG_BAD.

bench_note() { log "NOTE: $*"; echo "$*" >>"$OUT/notes.txt"; }

# bench_guest_start WHAT-BEFORE RUN-DESCRIPTION: drains the boot's kernel log
# into OUT/dmesg.log (noting errors, "...while booting, before WHAT-BEFORE")
# and describes the guest in OUT/guest.txt.
bench_guest_start() {
    mkdir -p "$OUT/fio"
    dmesg -n 1 2>/dev/null || true
    dmesg -c >"$OUT/dmesg.log" 2>/dev/null || true
    if grep -Eq "$KTAP_KLOG_BAD" "$OUT/dmesg.log"; then
        bench_note "the kernel logged errors while booting, before $1 (see dmesg.log)"
    fi
    echo "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB," \
         "fio $(fio --version), $2" >"$OUT/guest.txt"
}
