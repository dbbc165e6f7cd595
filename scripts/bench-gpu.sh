#!/usr/bin/env bash
# Benchmarks every plugin on the GPU machine over a carried stage/ (scripts/stage-for-gpu.sh)
# and writes the CSVs, the report and a log into $OUT (or results/gpu).
#
#   scripts/bench-gpu.sh [sweep|tunables|tune|report|all]   (default: all)
#
# Each stage stays well under ten minutes and resumes what an earlier run of it left in
# $BENCH_DIR (default results/gpu-run, kept on the machine between calls), so a long
# session can run the stages one call at a time; every stage copies what exists so far to
# $OUT. A call cut short by a time limit loses nothing: run the same stage again. The
# report needs gnuplot; without it the CSVs can be reported on any machine:
#   attnbench report bench.csv tunables.csv tune.csv --out report
set -uo pipefail
cd "$(dirname "$0")/.."
stage=${1:-all}
work=${BENCH_DIR:-results/gpu-run}
out=${OUT:-results/gpu}
bin=${ATTNB_BIN:-stage/bin/attnbench}  # ATTNB_BIN: try the script with another build
mkdir -p "$work" "$out"
status=0

run() {  # a command, echoed and logged; its failure is remembered, the stage goes on
  echo "\$ $*"
  "$@" || status=1
}

{
  echo "# attnbench GPU benchmark ($stage), $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  if [[ $stage == sweep || $stage == all ]]; then
    # The default GPU sweep (llama3-8b heads, fp16; prefill, decode, generate), each plugin in
    # its own process so a crash is one row, then bf16 at the targets' decode shapes.
    run $bin bench --out "$work/bench.csv" --resume --isolate
    run $bin bench --out "$work/bench.csv" --resume --isolate --dtype bf16 --phase decode --batch 8,32 --context 4096,32768
    # A 4096-token sliding window at long contexts (plugins without windows: unsupported rows).
    run $bin bench --out "$work/bench.csv" --resume --isolate --plugin sliding_window,fused --window 4096 \
        --phase decode --batch 8,32 --context 32768,65536
  fi
  if [[ $stage == tunables || $stage == all ]]; then
    # Tile heatmaps of the fused plugin at issue 6's prefill shape (4 x 4096) and its decode
    # split count at batch 1 with long contexts (what the split-KV path is for).
    run $bin bench --out "$work/tunables.csv" --resume --plugin fused --phase prefill --batch 4 --context 4096 \
        --sweep-tunable tile_q=64,128 --sweep-tunable tile_kv=32,64,128 --sweep-tunable warp_rows=16,32
    run $bin bench --out "$work/tunables.csv" --resume --plugin fused --phase decode --batch 1,32 --context 4096,65536 \
        --sweep-tunable num_splits=0,1,4,16,32 --sweep-tunable tile_kv=32,64,128
  fi
  if [[ $stage == tune || $stage == all ]]; then
    run $bin tune --out "$work/tune.csv" --resume --tpot-ms 20 --max-time 0.3
  fi
  if [[ $stage == report || $stage == all ]]; then
    if command -v gnuplot > /dev/null; then
      csvs=()
      for f in bench tunables tune; do [[ -s $work/$f.csv ]] && csvs+=("$work/$f.csv"); done
      run $bin report "${csvs[@]}" --out "$work/report"
    else
      echo "gnuplot not installed here: report the CSVs on another machine"
    fi
  fi
  echo "# exit status $status"
  exit $status
} 2>&1 | tee -a "$work/bench_gpu.log"
status=${PIPESTATUS[0]}
cp -r "$work"/. "$out"/ 2>/dev/null
exit "$status"
