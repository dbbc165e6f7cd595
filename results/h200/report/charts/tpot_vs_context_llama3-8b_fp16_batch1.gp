reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "tpot_vs_context_llama3-8b_fp16_batch1.png"
set title "Time per output token vs context, batch 1 (NVIDIA H200 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "context (tokens)"
set ylabel "µs per step (p50)"
set logscale x 2
set format x "%g"
set logscale y 10
plot "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused", \
     "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa", \
     "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv", \
     "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 3 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mha", \
     "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 4 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mqa", \
     "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 5 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_cudnn", \
     "tpot_vs_context_llama3-8b_fp16_batch1.dat" index 6 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_flash"
set terminal svg size 960,600 noenhanced font ",11"
set output "tpot_vs_context_llama3-8b_fp16_batch1.svg"
replot
unset output
