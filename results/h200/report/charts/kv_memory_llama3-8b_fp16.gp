reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "kv_memory_llama3-8b_fp16.png"
set title "KV cache of one sequence, all layers (llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "context (tokens)"
set ylabel "MiB per sequence"
set logscale x 2
set format x "%g"
set logscale y 10
plot "kv_memory_llama3-8b_fp16.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused", \
     "kv_memory_llama3-8b_fp16.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa", \
     "kv_memory_llama3-8b_fp16.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv", \
     "kv_memory_llama3-8b_fp16.dat" index 3 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mha", \
     "kv_memory_llama3-8b_fp16.dat" index 4 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mqa", \
     "kv_memory_llama3-8b_fp16.dat" index 5 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_cudnn", \
     "kv_memory_llama3-8b_fp16.dat" index 6 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_flash"
set terminal svg size 960,600 noenhanced font ",11"
set output "kv_memory_llama3-8b_fp16.svg"
replot
unset output
