#!/usr/bin/env bash
# One device call (fourth session): fused decode with claimed tiles (TileQueue) against fixed
# split ranges, after validate and check of fused and int8_kv on CUDA. Run from the
# repository root after `tar xf stage.tar.xz`. To $OUT: ab.csv, session.log.
set -uo pipefail
out=${OUT:?}
bin=stage/bin/attnbench
{
  echo "# $(date -u +%FT%TZ)"
  timeout 200 "$bin" validate --device cuda --plugin fused,int8_kv | tail -2 || exit 1
  for p in fused int8_kv; do timeout 60 "$bin" check "stage/lib/attnbench/plugins/$p.so" --device cuda | tail -1; done
  ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins timeout 120 \
      stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 | tail -3
  timeout 300 "$bin" bench --out "$out/ab.csv" --plugin fused --preset llama3-8b --dtype fp16 \
      --min-time 0.1 --max-time 0.5 --phase decode --batch 1,8 --context 4096,32768,65536 \
      --sweep-tunable claim_tiles=0,1
} 2>&1 | tee "$out/session.log"
