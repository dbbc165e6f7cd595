#!/usr/bin/env bash
# One device call (H200): fused with the wgmma prefill's page lookups fetched a step ahead. The
# SASS of the fp16 / D128 / 128 x 128 kernel (HGMMAs and the waits between them counted),
# fused validated on CUDA with its CUDA tests and compute-sanitizer memcheck over them, the
# prefill at 4 x 4096 causal over the tiles, and fused's headline decode shapes (the loader is
# the decode kernel's too). Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
cuda=/usr/local/cuda/bin
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
fn=$($cuda/cuobjdump -symbols stage/lib/attnbench/plugins/fused.so 2> /dev/null |
     grep -o '_ZN[A-Za-z0-9_]*flash_prefill_wgmma_kernelI6__halfLi128ELi128ELi128E[A-Za-z0-9_]*' | head -1)
$cuda/cuobjdump -sass -fun "$fn" stage/lib/attnbench/plugins/fused.so > "$out/sass_fp16_d128_tq128_tkv128.txt" 2>&1
echo "HGMMA $(grep -c HGMMA "$out/sass_fp16_d128_tq128_tkv128.txt"), WARPGROUP.DEPBAR $(grep -c 'WARPGROUP.DEPBAR' "$out/sass_fp16_d128_tq128_tkv128.txt")"
timeout 120 $bin validate --device cuda --plugin fused > "$out/validate_fused.log" 2>&1
echo "validate exit $?"; tail -1 "$out/validate_fused.log"
timeout 120 compute-sanitizer --tool memcheck --print-limit 5 stage/libexec/attnbench/tests/fused_plugin_test \
    --gtest_brief=1 --gtest_filter='*/cuda' > "$out/fused_tests_memcheck.log" 2>&1
echo "fused tests under memcheck exit $?"; tail -2 "$out/fused_tests_memcheck.log"
fp16=(--preset llama3-8b --dtype fp16)
timeout 150 $bin bench --plugin fused --out "$out/prefill_tiles.csv" "${fp16[@]}" --phase prefill --batch 4 \
    --context 4096 --sweep-tunable wgmma=0,1 --sweep-tunable tile_q=64,128 --sweep-tunable tile_kv=32,64,128 \
    > "$out/prefill_tiles.log" 2>&1
echo "prefill tiles exit $?"
timeout 150 $bin bench --plugin fused --out "$out/decode_headline.csv" "${fp16[@]}" \
    --phase decode --batch 1,8,32 --context 4096,32768,65536 > "$out/decode_headline.log" 2>&1
echo "decode exit $?"
python3 - "$out" <<'PY'
import csv, sys
keys = ("plugin", "preset", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s",
        "tokens_per_s", "tflops", "compute_pct", "gbps", "bandwidth_pct", "rel_l2_error")
for name in ("prefill_tiles.csv", "decode_headline.csv"):
    try:
        rows = list(csv.DictReader(open(f"{sys.argv[1]}/{name}")))
    except OSError:
        continue
    print("##", name, "ceilings:", rows[0].get("ceiling_gbps") if rows else "", rows[0].get("ceiling_tflops") if rows else "")
    for r in rows:
        print(" | ".join(r.get(k, "") for k in keys))
PY
