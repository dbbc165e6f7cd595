#!/usr/bin/env bash
# One device call (H200), the seventh session's final build: (1) compute-sanitizer memcheck
# and racecheck over int8_kv's CUDA tests (the integer-tensor-core decode, its early launch,
# the one-pass append); (2) the decode kernels alone under Nsight Compute without its clock
# control, L2 flushed clean, no append: how much of a step is the kernel (fused at 32 x 4096
# and 1 x 65536, int8_kv at 32 x 4096). Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  for tool in memcheck racecheck; do
    timeout 150 $cuda/compute-sanitizer --tool $tool stage/libexec/attnbench/tests/int8_kv_plugin_test \
        --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
    echo "$tool exit $?"
  done
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
for spec in "fused flash_decode_kernel 32 4096" "fused flash_decode_kernel 1 65536" "int8_kv int8_flash_decode_kernel 32 4096"; do
  set -- $spec
  timeout 120 $cuda/ncu --clock-control none --kernel-name regex:$2 --launch-skip 5 --launch-count 3 \
      --section SpeedOfLight --section LaunchStats \
      $bin bench --plugin $1 --out /tmp/ncu_$1_$3.csv --preset llama3-8b --dtype fp16 \
      --phase decode --batch $3 --context $4 --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 \
      > /tmp/ncu_$1_$3.txt 2>&1
  echo "ncu $1 $3 x $4 exit $?" | tee -a "$out/kernels_alone.txt"
  grep -E "Duration|DRAM Throughput|Grid Size|Waves Per SM" /tmp/ncu_$1_$3.txt | head -12 | tee -a "$out/kernels_alone.txt"
done
