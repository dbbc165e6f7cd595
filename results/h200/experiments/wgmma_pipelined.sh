#!/usr/bin/env bash
# One device call (H200): fused and int8_kv checked on CUDA (validate, check, the INT8
# accuracy study, their test suites), compute-sanitizer memcheck over the fused tests' CUDA
# cases (the pipelined wgmma prefill by default), the prefill at 4 x 4096 causal on both
# prefill kernels and their tiles, the wgmma prefill in bf16 and at head dim 64, and the
# headline decode shapes of fused and int8_kv. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
GPU_CHECK_PLUGINS=fused,int8_kv GPU_CHECK_TESTS='fused_plugin|int8|plugin_correctness' \
    GPU_CHECK_STEP_S=150 OUT="$out" scripts/gpu-check.sh > /dev/null
echo "gpu-check exit $?"
grep -E '^(validate|check|accuracy|[0-9]+ plugins?):|FAIL|exit status [^0]|^\[  PASSED|tests? ran' "$out/gpu_check.log" | head -30
timeout 150 compute-sanitizer --tool memcheck --print-limit 5 \
    stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' \
    > "$out/memcheck_fused.log" 2>&1
echo "memcheck exit $?"; tail -4 "$out/memcheck_fused.log"
fp16=(--preset llama3-8b --dtype fp16)
timeout 200 $bin bench --plugin fused --out "$out/prefill_tiles.csv" "${fp16[@]}" \
    --phase prefill --batch 4 --context 4096 --sweep-tunable wgmma=0,1 \
    --sweep-tunable tile_q=64,128 --sweep-tunable tile_kv=32,64,128 > "$out/prefill_tiles.log" 2>&1
echo "prefill tiles exit $?"
timeout 100 $bin bench --plugin fused --out "$out/prefill_dtypes.csv" --preset llama3-8b --dtype bf16 \
    --phase prefill --batch 4 --context 4096 --sweep-tunable tile_kv=64,128 > "$out/prefill_dtypes.log" 2>&1
timeout 100 $bin bench --plugin fused --out "$out/prefill_dtypes.csv" --preset tinyllama --dtype fp16,bf16 \
    --phase prefill --batch 4 --context 4096 --sweep-tunable tile_kv=64,128 >> "$out/prefill_dtypes.log" 2>&1
echo "prefill dtypes exit $?"
timeout 200 $bin bench --plugin fused,int8_kv --out "$out/decode_headline.csv" "${fp16[@]}" \
    --phase decode --batch 1,8,32 --context 4096,32768,65536 > "$out/decode_headline.log" 2>&1
echo "decode exit $?"
python3 - "$out" <<'PY'
import csv, sys
keys = ("plugin", "preset", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s",
        "tokens_per_s", "tflops", "compute_pct", "gbps", "bandwidth_pct", "rel_l2_error")
for name in ("prefill_tiles.csv", "prefill_dtypes.csv", "decode_headline.csv"):
    try:
        rows = list(csv.DictReader(open(f"{sys.argv[1]}/{name}")))
    except OSError:
        continue
    print("##", name, "ceilings:", rows[0].get("ceiling_gbps") if rows else "", rows[0].get("ceiling_tflops") if rows else "")
    for r in rows:
        print(" | ".join(r.get(k, "") for k in keys))
PY
