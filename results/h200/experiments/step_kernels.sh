#!/usr/bin/env bash
# One device call (H200): where a decode step's time goes. Nsight Compute, without its cache
# or clock control (so each kernel runs after the bench's own flush, a memset of twice L2),
# times every kernel of a few steps (int8_kv: quantize_kernel = its append, the decode,
# merge_splits_kernel; fused: append_kernel, its decode) with the DRAM bytes each reads and
# writes (the first 128 / batch + 24 skipped: the cache fill appends 128 tokens, batch a call). Kernels run one at a time under it (no overlap by the early launch), so their sum
# is an upper bound of the step. Then int8_kv's split counts at the issue's shapes with its
# evict-first copies (the split plan was tuned without them).
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
log=$out/step_kernels.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
n=0
profile() {  # plugin batch context extra...
  local plugin=$1 batch=$2 context=$3; shift 3; n=$((n + 1))
  timeout 150 $cuda/ncu --cache-control none --clock-control none \
      --kernel-name regex:"quantize_kernel|append_kernel|flash_decode_kernel|merge_splits_kernel" \
      --launch-skip $((128 / batch + 24)) --launch-count 12 --csv --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
      $bin bench --plugin $plugin "$@" --out /tmp/ncu_$n.csv --preset llama3-8b --dtype fp16 --phase decode \
      --batch $batch --context $context --warmup 0 --min-time 0.02 --max-time 0.05 --repetitions 1 > /tmp/ncu_$n.txt 2>&1
  echo "== $plugin $* $batch x $context: ncu exit $?" >> $log
  python3 - /tmp/ncu_$n.txt >> $log <<'PY'
import csv, sys, io
text = open(sys.argv[1]).read().splitlines()
start = next((i for i, l in enumerate(text) if l.startswith('"ID"')), None)
if start is None:
    print("\n".join(text[-8:])); sys.exit()
rows = list(csv.DictReader(io.StringIO("\n".join(text[start:]))))
by = {}
for r in rows:
    by.setdefault((r["ID"], r["Kernel Name"].split("(")[0].split("<")[0].split()[-1]), {})[r["Metric Name"]] = (r["Metric Value"], r["Metric Unit"])
for (i, k), m in sorted(by.items(), key=lambda x: int(x[0][0])):
    print(i, k, " ".join(f"{n.split('__')[1].split('.')[0]}={v}{u}" for n, (v, u) in sorted(m.items())))
PY
}
profile int8_kv 32 4096
profile int8_kv 32 4096 --set l2_evict_first=0
profile int8_kv 8 32768
profile fused 32 4096
profile fused 1 65536
cat $log
timeout 120 $bin bench --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode --preset llama3-8b --dtype fp16 \
    --sweep-tunable kv_splits=0,1,2,4,8,16 --batch 8,32 --context 4096,32768 --out $out/int8_splits.csv > /dev/null 2>&1
echo "splits exit $? at ${SECONDS}s"
python3 - $out/int8_splits.csv <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(r["batch"], r["context"], r["tunables"], r["status"], r["tpot_p50_s"], r["bandwidth_pct"])
PY
