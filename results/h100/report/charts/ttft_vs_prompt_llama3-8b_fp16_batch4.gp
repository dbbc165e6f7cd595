reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "ttft_vs_prompt_llama3-8b_fp16_batch4.png"
set title "Time to first token vs prompt, batch 4 (NVIDIA H100 80GB HBM3 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "prompt (tokens)"
set ylabel "ms (p50)"
set logscale x 2
set format x "%g"
set logscale y 10
plot "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused", \
     "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa", \
     "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv", \
     "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 3 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mha", \
     "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 4 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "mqa", \
     "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 5 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_cudnn", \
     "ttft_vs_prompt_llama3-8b_fp16_batch4.dat" index 6 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "torch_sdpa_flash"
set terminal svg size 960,600 noenhanced font ",11"
set output "ttft_vs_prompt_llama3-8b_fp16_batch4.svg"
replot
unset output
