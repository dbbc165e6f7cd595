reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "tunable_fused_decode_b1_ctx65536.png"
set title "fused decode, batch 1, context 65536, fp16: µs per call"
set grid
set key outside right top
set datafile missing "nan"
unset grid
set xlabel "decode_stages"
set ylabel "num_splits"
set cblabel "µs"
set xtics ("2" 0, "3" 1)
set ytics ("0" 0, "1" 1, "4" 2, "16" 3, "32" 4)
set xrange [-0.5:1.500000]
set yrange [-0.5:4.500000]
set palette defined (0 "#1a9850", 1 "#fee08b", 2 "#d73027")
plot "tunable_fused_decode_b1_ctx65536.dat" using 1:2:3 with image notitle, \
     "tunable_fused_decode_b1_ctx65536.dat" using 1:2:(sprintf("%.4g", $3)) with labels notitle
set terminal svg size 960,600 noenhanced font ",11"
set output "tunable_fused_decode_b1_ctx65536.svg"
replot
unset output
