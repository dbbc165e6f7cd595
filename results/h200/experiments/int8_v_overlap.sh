#!/usr/bin/env bash
# One device call (H200): int8_kv with V's rows loaded before the score products and converted
# while they run (instead of after the softmax), against 133bb42's int8_kv.so (old-plugins/),
# alternating, two rounds; then its CUDA tests and validate. Run from the repository root
# over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
for round in 1 2; do
  for which in new prev; do
    dir=stage/lib/attnbench/plugins; [[ $which == prev ]] && dir=old-plugins
    timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
        --preset llama3-8b --dtype fp16 --out "$out/${which}_r$round.csv" --batch 8,32 --context 4096,32768 > /dev/null 2>&1
    [[ $round == 1 ]] && timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 \
        --phase decode --preset llama3-8b,tinyllama --dtype bf16,fp16 --out "$out/${which}_r$round.csv" --resume \
        --batch 32 --context 32768 > /dev/null 2>&1
    echo "$which round $round exit $?"
  done
done
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 100 $bin validate --device cuda --plugin int8_kv 2>&1 | tail -1
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
python3 - "$out" <<'PY'
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
