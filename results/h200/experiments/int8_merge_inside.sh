#!/usr/bin/env bash
# One device call (H200): int8_kv's splits merged inside its decode (the last block of a group
# to finish, as fused's) instead of by a second kernel. (1) The new build's int8_kv CUDA tests,
# compute-sanitizer memcheck and racecheck over them, every plugin's CUDA correctness cases.
# (2) Three int8_kv builds alternating, two rounds: old-plugins/ (HEAD 682296c: the merge
# kernel), stage/ (the merge inlined at the decode's end) and var-plugins/ (the same, the
# last block's merge in a __noinline__ function, as ptxas spilled 8 bytes in bf16 D 128
# inlined). (3) The new build's kv_splits at 32 x 4096 and 8 x 32768. (4) fused with claims
# from 2 splits on (var-fused/: kMinClaimingSplits 2) at 32 x 4096, tile 32 x 3 stages pinned,
# claim_tiles 0/1; fused's kv_splits at 1 x 65536. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
log=$out/checks.log
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  for tool in memcheck racecheck; do
    timeout 100 $cuda/compute-sanitizer --tool $tool stage/libexec/attnbench/tests/int8_kv_plugin_test \
        --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
    echo "$tool exit $?"
  done
  timeout 120 stage/libexec/attnbench/tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*_cuda*' 2>&1 | tail -3
  timeout 120 $bin validate --device cuda --plugin int8_kv 2>&1 | tail -1
  echo "checks done at ${SECONDS}s"
} > $log 2>&1
cat $log
bench() {  # name dir plugin extra...
  local name=$1 dir=$2 plugin=$3; shift 3
  timeout 90 $bin bench --plugins $dir --plugin $plugin --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
for round in 1 2; do
  for v in old new noinline; do
    dir=stage/lib/attnbench/plugins; [[ $v == old ]] && dir=old-plugins; [[ $v == noinline ]] && dir=var-plugins
    bench ${v}_r$round $dir int8_kv --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
    bench ${v}_long_r$round $dir int8_kv --preset llama3-8b --dtype fp16 --batch 1 --context 65536
    bench ${v}_bf16_r$round $dir int8_kv --preset llama3-8b --dtype bf16 --batch 8,32 --context 4096,32768
    bench ${v}_hd64_r$round $dir int8_kv --preset tinyllama --dtype fp16 --batch 8,32 --context 32768
  done
done
st=stage/lib/attnbench/plugins
bench splits_new $st int8_kv --preset llama3-8b --dtype fp16 --batch 32 --context 4096 --sweep-tunable kv_splits=0,4
bench splits_new2 $st int8_kv --preset llama3-8b --dtype fp16 --batch 8 --context 32768 --sweep-tunable kv_splits=0,16
for round in 1 2; do
  bench fusedclaims_r$round var-fused fused --preset llama3-8b --dtype fp16 --batch 32 --context 4096 \
      --set tile_kv=32 --set decode_stages=3 --sweep-tunable claim_tiles=0,1
done
bench fusedsplits $st fused --preset llama3-8b --dtype fp16 --batch 1 --context 65536 --sweep-tunable kv_splits=0,16,24,32,48,64
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' >> $log
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["plugin"], r["preset"], r["dtype"], r["batch"], r["context"])
        tun = r.get("tunables", "")
        tag = os.path.basename(path)[:-4] + (f"[{tun}]" if "sweep" in r.get("command", "") or "--set" in r.get("command", "") else "")
        val = f'{float(r["bandwidth_pct"]):.1f}' if r.get("status") == "ok" else r.get("status", "?")
        rows.setdefault(key, []).append(f"{tag}={val}")
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
cat $log
