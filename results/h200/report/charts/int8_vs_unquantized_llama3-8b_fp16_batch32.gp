reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "int8_vs_unquantized_llama3-8b_fp16_batch32.png"
set title "Decode with an INT8 vs an unquantized KV cache, batch 32 (NVIDIA H200 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "context (tokens)"
set ylabel "tokens/s"
set logscale x 2
set format x "%g"
set yrange [0:*]
plot "int8_vs_unquantized_llama3-8b_fp16_batch32.dat" index 0 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "fused (fp16 cache)", \
     "int8_vs_unquantized_llama3-8b_fp16_batch32.dat" index 1 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "gqa (fp16 cache)", \
     "int8_vs_unquantized_llama3-8b_fp16_batch32.dat" index 2 using 1:2 with linespoints pointsize 1.2 linewidth 2 title "int8_kv (int8 cache)"
set terminal svg size 960,600 noenhanced font ",11"
set output "int8_vs_unquantized_llama3-8b_fp16_batch32.svg"
replot
unset output
