#!/usr/bin/env bash
# One device call (H200): int8_kv's split blocks claiming their group's tiles, the group's
# blocks spread over the launch order (stage/, 2bdca3d: claim_tiles 1, its default, against 0
# in the same build), against 8ffe70f (old-plugins/: fixed splits, a group's blocks adjacent in
# launch order). The per-block trace (int8_trace) showed a decode's last 10-20% spent waiting
# for the blocks on slower SMs, and the blocks of a group on adjacent, equally fast SMs.
# First the CUDA tests of int8_kv (every tunable value) and fused (its TileQueue moved to
# plugins/common); then, if claiming is ahead of 8ffe70f at 32 x 4096 and 8 x 32768, int8_kv's
# headline and tune rows again at this build (if its tests passed).
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/checks.log
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2 >> $log
tests=${PIPESTATUS[0]}
echo "int8_kv_plugin_test (cuda) exit $tests" >> $log
timeout 150 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2 >> $log
echo "fused_plugin_test (cuda) exit ${PIPESTATUS[0]} at ${SECONDS}s" >> $log
bench() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  timeout 90 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
shapes=(--preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768)
for round in 1 2; do
  bench new_r$round stage/lib/attnbench/plugins "${shapes[@]}" --sweep-tunable claim_tiles=1,0
  bench old_r$round old-plugins "${shapes[@]}"
done
bench new_other stage/lib/attnbench/plugins --preset llama3-8b,tinyllama --dtype bf16,fp16 --batch 8,32 --context 32768 --sweep-tunable claim_tiles=1,0
bench old_other old-plugins --preset llama3-8b,tinyllama --dtype bf16,fp16 --batch 8,32 --context 32768
bench new_long stage/lib/attnbench/plugins --preset llama3-8b --dtype fp16 --batch 1,32 --context 65536 --sweep-tunable claim_tiles=1,0
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' >> $log
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}:{r["tunables"]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
ahead=$(python3 - "$raw" <<'PY'
import csv, sys
def pct(prefix, batch, context, tun):
    v = [float(r["bandwidth_pct"]) for n in (1, 2) for r in csv.DictReader(open(f"{sys.argv[1]}/{prefix}_r{n}.csv"))
         if r["batch"] == batch and r["context"] == context and r["tunables"] == tun and r["status"] == "ok"]
    return sum(v) / len(v) if v else 0
print(int(all(pct("new", b, c, "claim_tiles=1") > pct("old", b, c, "") for b, c in (("32", "4096"), ("8", "32768")))))
PY
)
echo "claims ahead of 8ffe70f: $ahead" >> $log
if [[ $ahead == 1 && $tests == 0 ]]; then
  ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=$((560 - SECONDS)) \
      scripts/h100-results.sh device headline tune >> $log 2>&1
  echo "results exit $? at ${SECONDS}s" >> $log
  python3 - >> $log <<'PY'
import csv
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] in ("fused", "int8_kv") and r["phase"] == "decode" and r["preset"] == "llama3-8b" and r["dtype"] == "fp16":
        print(" | ".join(r.get(k, "") for k in ("plugin", "commit", "batch", "context", "status", "tpot_p50_s", "tokens_per_s", "bandwidth_pct")))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "batch", "tokens_per_s", "status")))
PY
fi
cat $log
