reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "decode_bandwidth_pct_llama3-8b_fp16_batch32.png"
set title "Decode % of copy bandwidth vs context, batch 32 (NVIDIA H200 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "context (tokens)"
set ylabel "% of measured copy bandwidth"
set logscale x 2
set format x "%g"
set yrange [0:*]
set yrange [0:110]
plot "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused", \
     "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa", \
     "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv", \
     "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 3 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mha", \
     "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 4 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mqa", \
     "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 5 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_cudnn", \
     "decode_bandwidth_pct_llama3-8b_fp16_batch32.dat" index 6 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_flash", \
     100 with lines dashtype 2 linewidth 2 linecolor rgb "black" title "copy bandwidth"
set terminal svg size 960,600 noenhanced font ",11"
set output "decode_bandwidth_pct_llama3-8b_fp16_batch32.svg"
replot
unset output
