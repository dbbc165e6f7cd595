#!/usr/bin/env bash
# One device call (H200): which of the V-in-registers decode's stage counts to keep. Three
# builds alternating, two rounds: f025a6c (stage/: V's operand in registers, three stages of
# tensor-copied tiles), the same with two stages (var-plugins/, f025a6c patched, kStages = 2),
# and a528f45 (old-plugins/: two stages, V through a 16-bit tile). The CUDA tests of the
# two-stage build; then, if it is faster than a528f45 at 8 x 32768 and 32 x 32768 (fp16), it
# replaces stage/'s int8_kv.so and int8_kv's headline and tune rows are measured again.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/checks.log
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
ATTNB_TEST_PLUGIN_DIR=$PWD/var-plugins timeout 60 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 \
    --gtest_filter='*/cuda' >> $log 2>&1
echo "two-stage int8_kv_plugin_test exit $?" >> $log
timeout 100 $bin validate --plugins var-plugins --device cuda --plugin int8_kv >> $log 2>&1
tail -3 $log
bench() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  timeout 70 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --out "$raw/$name.csv" --batch 1,8,32 --context 4096,32768 "$@" > /dev/null 2>&1
  echo "$name exit $?"
}
for round in 1 2; do
  bench s3_r$round stage/lib/attnbench/plugins
  bench s2_r$round var-plugins
  bench prev_r$round old-plugins
done
for which in s3 s2 prev; do
  dir=stage/lib/attnbench/plugins; [[ $which == s2 ]] && dir=var-plugins; [[ $which == prev ]] && dir=old-plugins
  timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b,tinyllama --dtype bf16,fp16 --out "$raw/${which}_other.csv" --batch 32 --context 32768 > /dev/null 2>&1
  timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b,tinyllama --dtype bf16 --out "$raw/${which}_other.csv" --resume --batch 8 --context 32768 > /dev/null 2>&1
  echo "$which other exit $?"
done
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY'
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
faster=$(python3 - "$raw" <<'PY'
import csv, sys
def pct(name, batch):
    return sum(float(r["bandwidth_pct"]) for n in (1, 2) for r in csv.DictReader(open(f"{sys.argv[1]}/{name}_r{n}.csv"))
               if r["batch"] == batch and r["context"] == "32768") / 2
print(int(all(pct("s2", b) > pct("prev", b) for b in ("8", "32"))))
PY
)
echo "two stages faster than a528f45: $faster"
if [[ $faster == 1 ]]; then
  cp -f var-plugins/int8_kv.so stage/lib/attnbench/plugins/int8_kv.so
  ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=$((560 - SECONDS)) \
      scripts/h100-results.sh device headline tune > /dev/null 2>&1
  echo "results exit $? at ${SECONDS}s"
  python3 - <<'PY'
import csv
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] in ("fused", "int8_kv") and r["phase"] == "decode":
        print(" | ".join(r.get(k, "") for k in ("plugin", "plugin_hash", "batch", "context", "status", "time_p50_s", "tokens_per_s", "bandwidth_pct")))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "batch", "tokens_per_s", "status")))
PY
fi
