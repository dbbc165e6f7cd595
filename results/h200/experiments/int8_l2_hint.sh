#!/usr/bin/env bash
# One device call (H200): int8_kv's tensor copies with no L2 hint (l2_evict_first=0, the copies
# as before) against lines marked evict-first (1, the new default), one build, two rounds;
# the previous call (int8_l2_evict_first) compared evict_first with an explicit evict_normal
# policy, which turned out much slower than no hint. Then the CUDA tests (every tunable value)
# and int8_kv's headline and tune rows again with the default.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/checks.log
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test \
    --gtest_brief=1 --gtest_filter='*/cuda' >> $log 2>&1
echo "int8_kv_plugin_test (cuda) exit $?" >> $log
tail -2 $log
bench() {  # name extra...
  local name=$1; shift
  timeout 90 $bin bench --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s"
}
bench r1 --sweep-tunable l2_evict_first=0,1 --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
bench r2 --sweep-tunable l2_evict_first=1,0 --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
bench other --sweep-tunable l2_evict_first=0,1 --preset llama3-8b,tinyllama --dtype bf16,fp16 --batch 8,32 --context 32768
bench long --sweep-tunable l2_evict_first=0,1 --preset llama3-8b --dtype fp16 --batch 1,32 --context 65536
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' | tee -a "$out/checks.log"
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}:{r["tunables"]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=$((570 - SECONDS)) \
    scripts/h100-results.sh device headline tune >> $out/checks.log 2>&1
echo "results exit $? at ${SECONDS}s"
python3 - <<'PY'
import csv
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] in ("fused", "int8_kv") and r["phase"] == "decode" and r["preset"] == "llama3-8b" and r["dtype"] == "fp16":
        print(" | ".join(r.get(k, "") for k in ("plugin", "commit", "batch", "context", "status", "tpot_p50_s", "tokens_per_s", "bandwidth_pct")))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "batch", "tokens_per_s", "status")))
PY
