reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "tokens_vs_batch_llama3-8b_fp16_context4096.png"
set title "Decode tokens/s vs batch, context 4096 (NVIDIA H200 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "batch (sequences)"
set ylabel "tokens/s"
set logscale x 2
set format x "%g"
set logscale y 10
plot "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused", \
     "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa", \
     "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv", \
     "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 3 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mha", \
     "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 4 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mqa", \
     "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 5 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_cudnn", \
     "tokens_vs_batch_llama3-8b_fp16_context4096.dat" index 6 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_flash"
set terminal svg size 960,600 noenhanced font ",11"
set output "tokens_vs_batch_llama3-8b_fp16_context4096.svg"
replot
unset output
