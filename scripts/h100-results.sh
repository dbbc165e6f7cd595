#!/usr/bin/env bash
# results/h100/ in one script (issue 9): the plugins' sweep through `attnbench bench`, `tune`,
# PyTorch's SDPA peers on the same shapes, then `attnbench report`. The GPU machine has no
# gnuplot and a device call lasts at most ten minutes, so the work is split:
#
#   scripts/h100-results.sh device [STAGE...|all]  on the GPU machine, over stage/ (unpacked from
#                                                   stage.tar.xz: scripts/stage-for-gpu.sh): CSVs
#                                                   into results/h100/, copied to $OUT after every
#                                                   command
#   scripts/h100-results.sh collect DIR            here: the files a device call brought back (and
#                                                   scripts/gpu-check.sh's log) -> results/h100/
#   scripts/h100-results.sh report                 here: report/ and headline.md from the CSVs
#   scripts/h100-results.sh plan [STAGE...|all]    print the commands of the stages, run nothing
#
# Stages, most important first (`all` runs them in this order and skips those listed in
# results/h100/stages-done.txt): headline tune decode prefill tunables window bf16 hd64.
# Every command resumes what results/h100/*.csv already hold (they travel to the GPU machine
# with the working tree), so a stage cut by the deadline is finished by running it again.
# H100_DEADLINE_S (default 540) is the time one device call may take: no command starts later
# than 30 s before it, and one still running then is stopped (its finished rows are kept).
# ATTNB_RESULTS_DIR (default results/h100) is the folder, for another GPU (results/h200).
# After a decode kernel changes, its rows are deleted from the CSVs and measured again with
# H100_PLUGINS=a,b (only those plugins) and H100_DECODE_ONLY=1 (no prefill rows, no peers).
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${ATTNB_RESULTS_DIR:-results/h100}
stages_all=(headline tune decode prefill tunables window bf16 hd64)
plugins=${H100_PLUGINS:-mha,gqa,mqa,int8_kv,fused}  # sliding_window without a window runs gqa's kernel: see `window`
decode_only=${H100_DECODE_ONLY:-}
fast=(--min-time 0.1 --max-time 0.5)  # the broad grids; the headline shapes use bench's defaults
decode_grid=(--phase decode --batch 1,8,32,128 --context 512,1024,2048,4096,8192,16384,32768)
# Prefill costs batch x context^2: at most 64K prompt tokens per call.
prefill_grids=("1 512,1024,2048,4096,8192,16384,32768" "4 512,1024,2048,4096,8192,16384" "16 512,1024,2048,4096")

die() { echo "h100-results.sh: $*" >&2; exit 2; }

# --- the stages: each a list of `bench`, `peers`, `tune` and `tunables` commands -----------------
bench() { run "$bin" bench --out "$dir/bench.csv" --resume --isolate --plugin "$plugins" "$@"; }
tunables() { run "$bin" bench --out "$dir/tunables.csv" --resume "$@"; }
peers() { [[ -z $decode_only ]] || return 0; run python3 scripts/peers/sdpa_peers.py --out "$dir/peers.csv" --resume --commit-from "$dir/bench.csv" "$@"; }
tune() { run "$bin" tune --out "$dir/tune.csv" --resume "$@"; }
has() { [[ ,$plugins, == *,$1,* ]]; }
only() {  # those of the named plugins that $plugins lists, comma-separated
  local p out=()
  for p in "$@"; do has "$p" && out+=("$p"); done
  (IFS=,; echo "${out[*]}")
}

decode_grid() {  # the plugins' and the peers' decode grid for a preset and dtypes
  bench "$@" "${fast[@]}" "${decode_grid[@]}"
  peers "$@" "${fast[@]}" "${decode_grid[@]}"
}

prefill_grid() {
  [[ -z $decode_only ]] || return 0
  for g in "${prefill_grids[@]}"; do
    read -r batch contexts <<< "$g"
    bench "$@" "${fast[@]}" --phase prefill --batch "$batch" --context "$contexts"
    peers "$@" "${fast[@]}" --phase prefill --batch "$batch" --context "$contexts"
  done
}

stage() {
  local fp16=(--preset llama3-8b --dtype fp16)
  case $1 in
    headline)  # the shapes the README's first screen quotes: decode 32 x 4096, 8 x 32768, 1 x 65536
      # (INT8 against fp16 among them), prefill 4 x 4096; bench's default timing
      bench "${fp16[@]}" --phase decode --batch 1,8,32 --context 4096,32768,65536
      [[ -n $decode_only ]] || bench "${fp16[@]}" --phase prefill --batch 4 --context 4096
      peers "${fp16[@]}" --phase decode --batch 1,8,32 --context 4096,32768,65536
      peers "${fp16[@]}" --phase prefill --batch 4 --context 4096 ;;
    tune)  # the largest batch within 90% of the GPU and a p95 TPOT of 20 ms for all 32 layers
      tune --plugin "$plugins" "${fp16[@]}" --context 4096,32768 --tpot-ms 20 --max-time 0.3 ;;
    decode) decode_grid "${fp16[@]}" ;;
    prefill) prefill_grid "${fp16[@]}" ;;
    tunables)  # fused's tiles at 4 x 4096 prefill, its decode splits and stages; int8_kv's splits
      if has fused && [[ -z $decode_only ]]; then
        tunables --plugin fused "${fp16[@]}" "${fast[@]}" --phase prefill --batch 4 --context 4096 \
            --sweep-tunable tile_q=64,128 --sweep-tunable tile_kv=32,64,128 --sweep-tunable warp_rows=16,32
      fi
      if has fused; then
        tunables --plugin fused "${fp16[@]}" "${fast[@]}" --phase decode --batch 1,32 --context 4096,65536 \
            --sweep-tunable num_splits=0,1,4,16,32 --sweep-tunable tile_kv=32,64,128 \
            --sweep-tunable decode_stages=2,3
      fi
      if has int8_kv; then  # int8_kv's decode splits at the INT8 target's shapes
        tunables --plugin int8_kv "${fp16[@]}" "${fast[@]}" --phase decode --batch 1,32 --context 4096,32768 \
            --sweep-tunable kv_splits=0,1,2,4,8
      fi ;;
    window)  # a 4096-token sliding window where it bites (PyTorch's SDPA has no window: no peers)
      local windowed
      windowed=$(only sliding_window fused)
      if [[ -n $windowed ]]; then
        plugins=$windowed bench "${fp16[@]}" "${fast[@]}" --window 4096 --phase decode --batch 8,32 \
            --context 8192,32768
        [[ -n $decode_only ]] || plugins=$windowed bench "${fp16[@]}" "${fast[@]}" --window 4096 \
            --phase prefill --batch 1 --context 16384,32768
      fi ;;
    bf16)
      decode_grid --preset llama3-8b --dtype bf16
      prefill_grid --preset llama3-8b --dtype bf16 ;;
    hd64)  # the head-dim-64 preset (tinyllama: 32 query heads, 4 KV heads), fp16 and bf16
      decode_grid --preset tinyllama --dtype fp16,bf16
      prefill_grid --preset tinyllama --dtype fp16,bf16 ;;
    *) die "unknown stage '$1' (expected: ${stages_all[*]} or all)" ;;
  esac
}

# --- running under the deadline -----------------------------------------------------------------
save() {  # what exists so far, to $OUT (at most 8 files come back from a device call)
  [[ -n ${OUT:-} ]] || return 0
  for f in bench.csv peers.csv tune.csv tunables.csv stages-done.txt device.log; do
    [[ -f $dir/$f ]] && cp -f "$dir/$f" "$OUT/"
  done
}

run() {  # one command, logged; stopped at the deadline; a failure is remembered, the stage goes on
  if [[ -n ${dry:-} ]]; then echo "  $*"; return 0; fi
  local left=$((deadline - SECONDS))
  if ((left < 30)); then
    echo "# deadline: not started: $*"
    cut=1
    return 1
  fi
  echo "\$ $*"
  timeout --kill-after=10 "$left" "$@"
  local rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "# deadline: stopped; the rows written so far are kept: run this stage again to finish it"
    cut=1
  elif ((rc != 0)); then
    echo "# exit status $rc"
    failed=1
  fi
  save
  return $rc
}

stage_list() {  # the stages named, `all` as every stage not done yet
  local s
  for s in "$@"; do
    if [[ $s == all ]]; then
      for t in "${stages_all[@]}"; do grep -qx "$t" "$dir/stages-done.txt" 2> /dev/null || echo "$t"; done
    else
      stage_names=" ${stages_all[*]} "
      [[ $stage_names == *" $s "* ]] || die "unknown stage '$s' (expected: ${stages_all[*]} or all)"
      echo "$s"
    fi
  done
}

device() {
  local todo
  todo=$(stage_list "${@:-all}") || exit 2
  bin=${ATTNB_BIN:-stage/bin/attnbench}
  [[ -x $bin ]] || die "$bin not found: run scripts/stage-for-gpu.sh on the build machine, carry stage.tar.xz and unpack it (tar xf stage.tar.xz)"
  nvidia-smi -L > /dev/null 2>&1 || die "no GPU here: the device stages run on the GPU machine"
  mkdir -p "$dir"
  deadline=$((SECONDS + ${H100_DEADLINE_S:-540}))
  {
    echo "# h100-results.sh device $*, $(date -u +%FT%TZ), stages: $(echo $todo)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
    python3 -c 'import torch; print("torch", torch.__version__, "cuDNN", torch.backends.cudnn.version())'
    for s in $todo; do
      cut=0 failed=0
      echo "## stage $s"
      stage "$s"
      if ((cut)); then
        echo "## stage $s: not finished (deadline); run it again"
        break
      fi
      grep -qx "$s" "$dir/stages-done.txt" 2> /dev/null || echo "$s" >> "$dir/stages-done.txt"
      echo "## stage $s: done$( ((failed)) && echo ', with failures above (their rows say why)')"
    done
    save
  } 2>&1 | tee -a "$dir/device.log"
  save
}

case ${1:-} in
  device) shift; device "$@" ;;
  plan)
    shift
    dry=1 bin=stage/bin/attnbench
    for s in $(stage_list "${@:-all}") ; do echo "$s:"; stage "$s"; done ;;
  collect)
    [[ -d ${2:-} ]] || die "collect: expected the folder a device call's files were fetched into"
    mkdir -p "$dir"
    for f in bench.csv peers.csv tune.csv tunables.csv stages-done.txt device.log gpu_check.log; do
      if [[ -f $2/$f ]]; then cp -f "$2/$f" "$dir/$f" && chmod u+w "$dir/$f" && echo "collected $dir/$f"; fi
    done ;;
  report)
    bin=${ATTNB_BIN:-build/bin/attnbench}
    [[ -x $bin ]] || die "$bin not found: build first (cmake -S . -B build && cmake --build build) or set ATTNB_BIN"
    csvs=()
    for f in bench peers tunables tune; do [[ -s $dir/$f.csv ]] && csvs+=("$dir/$f.csv"); done
    ((${#csvs[@]})) || die "report: no CSVs in $dir: run the device stages first"
    "$bin" report "${csvs[@]}" --out "$dir/report" || exit
    python3 scripts/headline.py "$dir" > "$dir/headline.md" && echo "headline: $dir/headline.md" ;;
  *) die "expected: device [STAGE...|all], collect DIR, report, or plan [STAGE...|all]" ;;
esac
