#!/usr/bin/env python3
"""Summarizes a per-block %globaltimer trace of a decode kernel (fused_trace.patch's CSV:
block, start, first_copy, first_tile, loop_end, end, sm, tiles[, splits[, written, arrived,
last]]), times in us from
the first block's start. Usage: trace_summary.py TRACE.csv"""
import csv
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
t0 = min(int(r["start"]) for r in rows)
us = lambda r, c: (int(r[c]) - t0) / 1e3
working = [r for r in rows if int(r["tiles"]) > 0]


def q(v, p):
    return v[min(len(v) - 1, int(p * len(v)))]


def line(name, v):
    v = sorted(v)
    return (f"  {name:22s} min {v[0]:7.2f}  p10 {q(v, .1):7.2f}  median {q(v, .5):7.2f}  "
            f"p90 {q(v, .9):7.2f}  max {v[-1]:7.2f} us")


tiles = sorted(int(r["tiles"]) for r in rows)
print(f"{len(rows)} blocks ({len(rows) - len(working)} without a tile), splits "
      f"{sorted(set(r.get('splits', '?') for r in rows))}, tiles a block: min {tiles[0]} "
      f"median {q(tiles, .5)} max {tiles[-1]}")
for c in ("start", "first_copy", "loop_end", "end"):
    print(line(c, [us(r, c) for r in rows]))
print(line("first_tile", [us(r, "first_tile") for r in working]))
print(line("first copy .. landed", [us(r, "first_tile") - us(r, "first_copy") for r in working]))
print(line("loop", [us(r, "loop_end") - us(r, "first_tile") for r in working]))
print(line("us a tile", [(us(r, "loop_end") - us(r, "first_tile")) / int(r["tiles"]) for r in working]))
print(line("loop end .. end", [us(r, "end") - us(r, "loop_end") for r in rows]))
if "written" in rows[0]:  # fused_trace_epilogue.patch's stamps inside the epilogue
    last = [r for r in rows if r["last"] == "1"]
    print(line("loop end .. partials", [us(r, "written") - us(r, "loop_end") for r in rows]))
    print(line("partials .. arrived", [us(r, "arrived") - us(r, "written") for r in rows]))
    if last:
        print(line("arrived .. end (last)", [us(r, "end") - us(r, "arrived") for r in last]))
        final = max(rows, key=lambda r: int(r["end"]))
        print(f"  the last block to end: loop end {us(final, 'loop_end'):.2f}, partials {us(final, 'written'):.2f}, "
              f"arrived {us(final, 'arrived'):.2f}, end {us(final, 'end'):.2f} us (last of its group: {final['last']})")
per_sm = {}
for r in rows:
    per_sm.setdefault(r["sm"], []).append(r)
counts = sorted(len(v) for v in per_sm.values())
print(f"  SMs used {len(per_sm)}, blocks per SM: min {counts[0]} max {counts[-1]}")
end = max(us(r, "end") for r in rows)
bins = [0.0] * (int(end // 2) + 1)
for r in working:
    a, b = us(r, "first_tile"), us(r, "loop_end")
    for k in range(len(bins)):
        bins[k] += max(0.0, min(b, 2 * k + 2) - max(a, 2 * k)) / 2
print("  blocks in their loop, per 2 us: " + " ".join(f"{x:.0f}" for x in bins))
