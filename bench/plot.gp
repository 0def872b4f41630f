# bench/plot.gp: draws bench/plot.dat (written by scripts/bench --plot)
# into bench/plot.png: throughput and p99 latency against the number of
# wrk connections, for the three targets.
set terminal pngcairo size 1200,600 font "DejaVu Sans,11"
set output "plot.png"
set multiplot layout 1,2 title "forcelink /contact against a FastCGI hello-world and a minimal relay (2 cores, wrk on the same machine)"
set key below
set grid
set xlabel "concurrent connections (wrk -c)"
set logscale x
set xtics (1, 10, 50, 100)
set xrange [0.8:130]

set title "Throughput"
set ylabel "requests per second"
set yrange [0:*]
plot "plot.dat" using 1:2 with linespoints lw 2 pt 7 title "hello (bare libfcgi)", \
     "" using 1:4 with linespoints lw 2 pt 5 title "relay (libcurl keep-alive + json-c)", \
     "" using 1:6 with linespoints lw 2 pt 9 title "forcelink /contact (warm)"

set title "99th percentile latency"
set ylabel "p99 latency (ms)"
set logscale y
set yrange [*:*]
plot "plot.dat" using 1:3 with linespoints lw 2 pt 7 title "hello (bare libfcgi)", \
     "" using 1:5 with linespoints lw 2 pt 5 title "relay (libcurl keep-alive + json-c)", \
     "" using 1:7 with linespoints lw 2 pt 9 title "forcelink /contact (warm)"
unset multiplot
