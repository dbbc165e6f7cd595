#!/usr/bin/env bash
# One device call (H200): int8_kv's decode with its tiles copied by the tensor memory
# accelerator (a copy per page piece by warp 0's lanes, completing on an mbarrier) against
# 1b8af97's int8_kv.so (old-plugins/, cp.async 16 bytes a thread), alternating, two rounds,
# and the new build with tensor_copies=0 (its cp.async path), and a variant build with three
# stages of tensor-copied tiles (var-plugins/, a528f45 patched, not committed: three blocks an
# SM instead of four, two tiles in flight each); then the CUDA tests of int8_kv
# (every tunable value, every kind of page size), validate, and plugin_correctness.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw  # the CSVs, packed into $out/csv.tar.gz at the end (few files come back)
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > "$out/checks.log"
timeout 150 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' >> "$out/checks.log" 2>&1
echo "int8_kv_plugin_test exit $?" >> "$out/checks.log"
tail -4 "$out/checks.log"
bench() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  timeout 70 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --out "$raw/$name.csv" --batch 1,8,32 --context 4096,32768 "$@" > /dev/null 2>&1
  echo "$name exit $?"
}
for round in 1 2; do
  bench new_r$round stage/lib/attnbench/plugins
  bench prev_r$round old-plugins
  bench var3_r$round var-plugins
done
bench new_cp_async stage/lib/attnbench/plugins --set tensor_copies=0
for which in new prev var3; do
  dir=stage/lib/attnbench/plugins; [[ $which == prev ]] && dir=old-plugins; [[ $which == var3 ]] && dir=var-plugins
  timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b,tinyllama --dtype bf16,fp16 --out "$raw/${which}_other.csv" --batch 32 --context 32768 > /dev/null 2>&1
  timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --out "$raw/${which}_other.csv" --resume --batch 1 --context 65536 > /dev/null 2>&1
  echo "$which other exit $?"
done
echo "benches done at ${SECONDS}s" >> "$out/checks.log"
(( SECONDS < 470 )) && {
  timeout 100 $bin validate --device cuda --plugin int8_kv 2>&1 | tail -1
  timeout 120 stage/libexec/attnbench/tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*int8*cuda*' 2>&1 | tail -3
} >> "$out/checks.log" 2>&1
tail -5 "$out/checks.log"
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
