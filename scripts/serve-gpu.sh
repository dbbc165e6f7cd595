#!/usr/bin/env bash
# Runs `attnbench serve` on the GPU machine over stage/, unpacked from the carried
# stage.tar.xz (see stage-for-gpu.sh): the KV pool, scheduler and serve suites on CUDA; a
# small run with every output checked against the fp64 reference; then a Llama-3-8B-like
# layer (32 query heads, 8 KV heads where the plugin allows, head dim 128, fp16) for each
# plugin: all requests at once, Poisson arrivals, and a small pool that forces preemptions.
# Log and CSV go to $OUT (or results/gpu).
# SERVE_GPU_PLUGINS (default: every plugin; mqa is not verified, its CUDA-core kernel is slow)
# limits the verified and the Llama-like runs to some plugins.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-results/gpu}
mkdir -p "$out"
bin=stage/bin/attnbench
plugins_dir=stage/lib/attnbench/plugins
export ATTNB_TEST_PLUGIN_DIR=$PWD/$plugins_dir
export ATTNB_TEST_HARNESS=$PWD/$bin
csv=$out/serve_gpu.csv
status=0
{
  echo "# attnbench serve on the GPU, $(date -u +%FT%TZ), $bin: $($bin --version)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  for t in kv_pool_test scheduler_test serve_workload_test serve_cli_test; do
    echo "## $t"
    stage/libexec/attnbench/tests/$t --gtest_brief=1 || status=1
  done

  echo "## every output row checked against the fp64 reference (Llama-like layer, small workload)"
  for p in ${SERVE_GPU_PLUGINS:-mha gqa int8_kv fused}; do
    [ -f "$plugins_dir/$p.so" ] || continue
    $bin serve --device cuda --plugin "$p" --requests 16 --prompt-len uniform:32:256 --output-len 32 \
      --verify on --out "$csv" || status=1
  done

  for p in ${SERVE_GPU_PLUGINS:-mha gqa mqa int8_kv fused}; do
    [ -f "$plugins_dir/$p.so" ] || continue
    echo "## $p: 256 requests at once, prompt 512, output 128, pool 90% of free memory"
    $bin serve --device cuda --plugin "$p" --requests 256 --rate inf --out "$csv" || status=1
    echo "## $p: 256 requests, Poisson 50/s, prompt uniform:128:1024, output uniform:32:256"
    $bin serve --device cuda --plugin "$p" --requests 256 --rate 50 --prompt-len uniform:128:1024 \
      --output-len uniform:32:256 --out "$csv" || status=1
    echo "## $p: 256 requests at once into a 256 MiB pool (preemptions)"
    $bin serve --device cuda --plugin "$p" --requests 256 --memory-budget 256MiB --out "$csv" || status=1
  done
  echo "# exit status $status"
  exit $status
} 2>&1 | tee "$out/serve_gpu.log"
exit "${PIPESTATUS[0]}"
