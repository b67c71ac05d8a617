# Chart of the load test (bench/load): requests per server CPU-second and
# RSS per target, from OUTDIR/results.csv and OUTDIR/meta.txt, drawn to
# OUTDIR/load.png.
#
#   gnuplot -e "outdir='bench/out'" bench/chart.gp
#
# Needs gnuplot with the pngcairo terminal (Debian: gnuplot-nox).
# Columns: 1 target, 2 label, 3 per_cpu_s, 4 vs_floor, 5-6 per_cpu_s
# min/max, 7 requests_per_s, 8-11 p50/p90/p99/mean ms, 12 rss_mib,
# 13 store_round_trips.

if (!exists("outdir")) outdir = "bench/out"
data = outdir."/results.csv"
info = system("fold -s -w 190 '".outdir."/meta.txt' 2>/dev/null | head -n 3")

set terminal pngcairo size 1280,560 font "sans,9" noenhanced
set output outdir."/load.png"
set datafile separator ","
set key autotitle columnheader

set style data histograms
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.8
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set xtics scale 0 rotate by -35 left
set yrange [0:*]
set offsets 0, 0, graph 0.14, 0
set bmargin 9
unset key

set multiplot layout 1,2 title "oidcauth load test: an authenticated GET, one logged-in session, loopback\n".info

# Requests per second of the server's own CPU time: the median round, the
# range of the rounds as an error bar; above it the ratio to the scs floor
# (to the Redis floor for the Redis targets).
set title "requests per server CPU-second (median, range of the rounds; higher is better)\nlabel: value and ratio to the scs floor (for the Redis rows: to the Redis floor)"
set style histogram errorbars gap 1 lw 1
plot data using 3:5:6:xtic(2) lc rgb "#4a7ab5", \
     '' using ($0):6:(sprintf("%.0f\n%.2f×", $3, $4)) with labels offset 0,1.6 notitle

# Resident memory after the run.
set title "RSS after the run (MiB; Apache: PSS of its processes)"
set style histogram clustered gap 1
plot data using 12:xtic(2) lc rgb "#9ecae1", \
     '' using ($0):12:(sprintf("%.1f", $12)) with labels offset 0,0.8 notitle

unset multiplot
