# Chart of the load test (bench/load): throughput and latency per target,
# from OUTDIR/results.csv and OUTDIR/meta.txt, drawn to OUTDIR/load.png.
#
#   gnuplot -e "outdir='bench/out'" bench/chart.gp
#
# Needs gnuplot with the pngcairo terminal (Debian: gnuplot-nox).

if (!exists("outdir")) outdir = "bench/out"
data = outdir."/results.csv"
info = system("head -n 1 '".outdir."/meta.txt' 2>/dev/null")

set terminal pngcairo size 960,420 font "sans,9" noenhanced
set output outdir."/load.png"
set datafile separator ","
set key autotitle columnheader

set style data histograms
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.8
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set xtics scale 0
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0

set multiplot layout 1,2 title "oidcauth load test: GET with a logged-in session, loopback\n".info

# Throughput, one bar per target (the median run), the range of the runs
# as an error bar, the median's value beside it.
set title "throughput (requests/s, median and range of the runs; higher is better)"
set style histogram errorbars gap 1 lw 1
unset key
plot data using 3:8:9:xtic(2) lc rgb "#4a7ab5", \
     '' using ($0):3:(sprintf("%.0f", $3)) with labels offset 3.2,0.7 notitle

# Latency percentiles (medians of the runs), clustered per target.
set title "latency percentiles (ms, median of the runs; lower is better)"
set style histogram clustered gap 1
set key top left reverse Left
plot data using 4:xtic(2) title "p50" lc rgb "#9ecae1", \
     '' using 5 title "p90" lc rgb "#4a7ab5", \
     '' using 6 title "p99" lc rgb "#08306b"

unset multiplot
