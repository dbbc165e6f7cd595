reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "tunable_fused_prefill_b4_ctx4096.png"
set title "fused prefill, batch 4, context 4096, fp16: µs per call"
set grid
set key outside right top
set datafile missing "nan"
unset grid
set xlabel "tile_kv"
set ylabel "tile_q"
set cblabel "µs"
set xtics ("32" 0, "64" 1, "128" 2)
set ytics ("64" 0, "128" 1)
set xrange [-0.5:2.500000]
set yrange [-0.5:1.500000]
set palette defined (0 "#1a9850", 1 "#fee08b", 2 "#d73027")
plot "tunable_fused_prefill_b4_ctx4096.dat" using 1:2:3 with image notitle, \
     "tunable_fused_prefill_b4_ctx4096.dat" using 1:2:(sprintf("%.4g", $3)) with labels notitle
set terminal svg size 960,600 noenhanced font ",11"
set output "tunable_fused_prefill_b4_ctx4096.svg"
replot
unset output
