#!/usr/bin/env bash
# One device call (H200): where the wgmma prefill's instructions go. The SASS of its fp16,
# head dim 128, 128 x 128 tile kernel (cuobjdump), and Nsight Compute's full set on one launch
# (instruction mix, warp stalls, source counters). Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
cuda=/usr/local/cuda/bin
fn=$($cuda/cuobjdump -symbols stage/lib/attnbench/plugins/fused.so 2> /dev/null |
     grep -o '_ZN[A-Za-z0-9_]*flash_prefill_wgmma_kernelI6__halfLi128ELi128ELi128E[A-Za-z0-9_]*' | head -1)
echo "function: $fn"
$cuda/cuobjdump -sass -fun "$fn" stage/lib/attnbench/plugins/fused.so > "$out/sass_fp16_d128_tq128_tkv128.txt" 2>&1
echo "cuobjdump exit $? lines $(wc -l < "$out/sass_fp16_d128_tq128_tkv128.txt")"
timeout 240 $cuda/ncu --kernel-name regex:flash_prefill_wgmma --launch-skip 2 --launch-count 1 --set full \
    --import-source no --print-details all \
    stage/bin/attnbench bench --plugin fused --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 \
    --phase prefill --batch 4 --context 4096 --set wgmma=1 --set tile_q=128 --set tile_kv=128 \
    --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > "$out/ncu_full_tq128_tkv128.txt" 2>&1
echo "ncu exit $?"
grep -E 'Stall|stall|Executed Instructions|Issued Instructions' "$out/ncu_full_tq128_tkv128.txt" | head -40
