#!/usr/bin/env bash
# One device call (H200): fused's decode with its tile claim issued before the block waits for
# its tile (the atomic in flight for the whole iteration, not only while a tile is attended),
# and claims from two splits on (var-fused/: fused_claim_early.patch over 60fed29), against
# stage/ (af2c4f2, fused's decode as at 60fed29), alternating, two rounds; claim_tiles 0/1 in
# each (in stage/ claims start at four splits, so at two they are fixed ranges either way).
# 32 x 4096 and 32 x 32768 (two splits) with the 32-key tile in 3 stages pinned; 8 x 32768,
# 1 x 32768, 1 x 65536 at the defaults. Then num_splits at 1 x 65536 in stage/. The var build's
# fused CUDA tests first. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/checks.log
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  ATTNB_TEST_PLUGIN_DIR=$PWD/var-fused timeout 60 stage/libexec/attnbench/tests/fused_plugin_test \
      --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 100 $bin validate --device cuda --plugins var-fused --plugin fused 2>&1 | tail -1
  echo "checks done at ${SECONDS}s"
} > $log 2>&1
cat $log
bench() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  timeout 90 $bin bench --plugins $dir --plugin fused --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
for round in 1 2; do
  for v in base var; do
    dir=stage/lib/attnbench/plugins; [[ $v == var ]] && dir=var-fused
    bench ${v}_two_r$round $dir --batch 32 --context 4096,32768 --set tile_kv=32 --set decode_stages=3 \
        --sweep-tunable claim_tiles=0,1
    bench ${v}_many_r$round $dir --batch 1,8 --context 32768 --sweep-tunable claim_tiles=0,1
    bench ${v}_long_r$round $dir --batch 1 --context 65536 --sweep-tunable claim_tiles=0,1
  done
done
bench splits stage/lib/attnbench/plugins --batch 1 --context 65536 --sweep-tunable num_splits=0,32,48,64
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' >> $log
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["batch"], r["context"])
        tun = ";".join(t for t in r.get("tunables", "").split(";") if t.startswith(("claim", "num_splits")))
        val = f'{float(r["bandwidth_pct"]):.1f}' if r.get("status") == "ok" else r.get("status", "?")
        rows.setdefault(key, []).append(f"{os.path.basename(path)[:-4]}[{tun}]={val}")
for k, v in sorted(rows.items()):
    print(" x ".join(k), "|", " ".join(sorted(v)))
PY
cat $log
