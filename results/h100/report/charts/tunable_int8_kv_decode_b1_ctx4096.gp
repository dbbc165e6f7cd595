reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "tunable_int8_kv_decode_b1_ctx4096.png"
set title "Time vs kv_splits: int8_kv decode, batch 1, context 4096, fp16"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "kv_splits"
set ylabel "time per call (µs)"
set logscale x 2
set format x "%g"
set yrange [0:*]
plot "tunable_int8_kv_decode_b1_ctx4096.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv"
set terminal svg size 960,600 noenhanced font ",11"
set output "tunable_int8_kv_decode_b1_ctx4096.svg"
replot
unset output
