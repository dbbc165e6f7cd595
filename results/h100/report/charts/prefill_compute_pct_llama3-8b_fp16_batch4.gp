reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "prefill_compute_pct_llama3-8b_fp16_batch4.png"
set title "Prefill % of GEMM FLOP/s vs prompt, batch 4 (NVIDIA H100 80GB HBM3 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "prompt (tokens)"
set ylabel "% of measured GEMM FLOP/s"
set logscale x 2
set format x "%g"
set yrange [0:*]
set yrange [0:110]
plot "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused", \
     "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa", \
     "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv", \
     "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 3 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mha", \
     "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 4 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mqa", \
     "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 5 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_cudnn", \
     "prefill_compute_pct_llama3-8b_fp16_batch4.dat" index 6 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_flash", \
     100 with lines dashtype 2 linewidth 2 linecolor rgb "black" title "GEMM rate"
set terminal svg size 960,600 noenhanced font ",11"
set output "prefill_compute_pct_llama3-8b_fp16_batch4.svg"
replot
unset output
