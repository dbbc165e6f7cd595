#!/usr/bin/env bash
# Device calls (fourth session): decode with claimed tiles (TileQueue) against fixed split
# ranges, after validate and check of fused and int8_kv on CUDA. Run from the repository
# root after `tar xf stage.tar.xz`. To $OUT: ab.csv, session.log.
set -uo pipefail
out=${OUT:?}
bin=stage/bin/attnbench
{
  echo "# $(date -u +%FT%TZ)"
  timeout 200 "$bin" validate --device cuda --plugin fused,int8_kv | tail -1
  for p in fused int8_kv; do timeout 60 "$bin" check "stage/lib/attnbench/plugins/$p.so" --device cuda | tail -1; done
  for t in fused_plugin_test int8_kv_plugin_test; do
    ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins timeout 120 \
        "stage/libexec/attnbench/tests/$t" --gtest_brief=1 | tail -2
  done
  timeout 200 "$bin" bench --out "$out/ab.csv" --isolate --plugin fused,int8_kv --preset llama3-8b --dtype fp16 \
      --min-time 0.1 --max-time 0.5 --phase decode --batch 1,8,32 --context 4096,32768,65536 \
      --sweep-tunable claim_tiles=0,1
} 2>&1 | tee "$out/session.log"
