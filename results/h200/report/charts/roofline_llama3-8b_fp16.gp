reset
set terminal pngcairo size 960,600 noenhanced font ",11"
set output "roofline_llama3-8b_fp16.png"
set title "Roofline (NVIDIA H200 | llama3-8b | fp16)"
set grid
set key outside right top
set datafile missing "nan"
set xlabel "arithmetic intensity (FLOP per byte moved)"
set ylabel "TFLOP/s"
set logscale x 10
set format x "%g"
set logscale y 10
set samples 500
set xrange [0.05:2000]
plot "roofline_llama3-8b_fp16.dat" index 0 using 1:2 with points pointsize 1.5 title "fused decode", \
     "roofline_llama3-8b_fp16.dat" index 1 using 1:2 with points pointsize 1.5 title "fused prefill", \
     "roofline_llama3-8b_fp16.dat" index 2 using 1:2 with points pointsize 1.5 title "gqa decode", \
     "roofline_llama3-8b_fp16.dat" index 3 using 1:2 with points pointsize 1.5 title "gqa prefill", \
     "roofline_llama3-8b_fp16.dat" index 4 using 1:2 with points pointsize 1.5 title "int8_kv decode", \
     "roofline_llama3-8b_fp16.dat" index 5 using 1:2 with points pointsize 1.5 title "int8_kv prefill", \
     "roofline_llama3-8b_fp16.dat" index 6 using 1:2 with points pointsize 1.5 title "mha decode", \
     "roofline_llama3-8b_fp16.dat" index 7 using 1:2 with points pointsize 1.5 title "mha prefill", \
     "roofline_llama3-8b_fp16.dat" index 8 using 1:2 with points pointsize 1.5 title "mqa decode", \
     "roofline_llama3-8b_fp16.dat" index 9 using 1:2 with points pointsize 1.5 title "mqa prefill", \
     "roofline_llama3-8b_fp16.dat" index 10 using 1:2 with points pointsize 1.5 title "torch_sdpa_cudnn decode", \
     "roofline_llama3-8b_fp16.dat" index 11 using 1:2 with points pointsize 1.5 title "torch_sdpa_cudnn prefill", \
     "roofline_llama3-8b_fp16.dat" index 12 using 1:2 with points pointsize 1.5 title "torch_sdpa_flash decode", \
     "roofline_llama3-8b_fp16.dat" index 13 using 1:2 with points pointsize 1.5 title "torch_sdpa_flash prefill", \
     (x * 4.27418 < 754.844 ? x * 4.27418 : 754.844) with lines dashtype 2 linewidth 2 linecolor rgb "black" title "measured ceilings"
set terminal svg size 960,600 noenhanced font ",11"
set output "roofline_llama3-8b_fp16.svg"
replot
unset output
