#!/usr/bin/env bash
# One device call (H200), build fc65d3e: (1) fused and int8_kv checked on CUDA (validate, their
# CUDA test suites: every tunable value, int8_kv's new decode_stages among them); (2) fused's
# decode stages x tile x claims on the issue's shapes; (3) int8_kv's decode stages; (4) the
# wgmma prefill's tiles, now with Q in registers at one block an SM. Rows go to one CSV.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 150 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -2
  timeout 150 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 150 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
common=(--out "$out/sweep.csv" --resume --preset llama3-8b --dtype fp16 --min-time 0.2 --max-time 0.6)
for shape in "32 4096" "8 32768" "1 65536" "32 32768"; do
  set -- $shape
  timeout 100 $bin bench --plugin fused "${common[@]}" --phase decode --batch $1 --context $2 \
      --sweep-tunable decode_stages=2,3 --sweep-tunable tile_kv=32,64 --sweep-tunable claim_tiles=0,1 >> "$out/sweep.log" 2>&1
  echo "fused $1 x $2 exit $?"
  timeout 60 $bin bench --plugin int8_kv "${common[@]}" --phase decode --batch $1 --context $2 \
      --sweep-tunable decode_stages=2,3,4 >> "$out/sweep.log" 2>&1
  echo "int8_kv $1 x $2 exit $?"
done
timeout 120 $bin bench --plugin fused "${common[@]}" --phase prefill --batch 4 --context 4096 \
    --sweep-tunable tile_kv=32,64,128 >> "$out/sweep.log" 2>&1
echo "prefill exit $?"
python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/sweep.csv")):
    print(" | ".join(r[k] for k in ("plugin", "phase", "batch", "context", "tunables", "status", "time_p50_s", "gbps", "bandwidth_pct", "tflops")))
PY
