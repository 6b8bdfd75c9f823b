#!/usr/bin/env bash
# The sketch alone, before the model: for each dev clip (16 frames at 256x256), what the
# encoder's sketch search picks at 300, 900, 2,400 and 4,000 bytes of sketch section and
# without a budget (sketch::LAMBDA), its bytes and the PSNR of its upsampled, blended
# decode (the model's condition) against the frames (`--example sketch_rd`). Writes
# docs/BENCHMARKS.md's "sketch-rd" section. About 3 minutes on 2 cores; needs ffmpeg and
# the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
cargo build -j2 --release -p lora-video --example sketch_rd
rows=""
while read -r path start; do
    path=$(eval echo "$path")
    name=$(basename "$path" .avi)-$start
    while IFS= read -r line; do
        rows+=$(python3 -c '
import re, sys
name, line = sys.argv[1], sys.argv[2]
m = re.match(r"(\w+)\(([\d.]+)\): SketchParams \{ cell_log2: (\d+), keyframes: (\d+), q_luma: (\d+), q_chroma: (\d+) \}, (\d+) bytes, ([\d.]+) dB \(([\d.]+) s\)", line)
kind, value, cell, k, ql, qc, size, psnr, secs = m.groups()
target = f"{value} bytes" if kind == "Bytes" else f"lambda {float(value):.0f}"
print(f"| {name} | {target} | {1 << int(cell)} | {k} | {ql} / {qc} | {size} | {psnr} | {secs} |")' "$name" "$line")$'\n'
    done < <(target/release/examples/sketch_rd "$path" --start "$start" 300 900 2400 4000 l=15000)
done < <(grep -v '^#' bench/dev-clips.txt)
printf '%s\n' "<!-- sketch-rd:begin -->
## The sketch alone, before the model

\`bash scripts/bench-sketch.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, release build): each dev clip,
16 frames at 256x256. What \`sketch::search\` picks for a sketch section of at most the
given bytes, and without a budget (the least squared error plus lambda per bit, what a
plain \`encode\` uses): cell side (pixels), keyframes, luma / chroma steps, the section's
bytes, and the PSNR (RGB) of the decode the model is conditioned on (keyframes upsampled
and blended in time) against the frames. Seconds: the search alone.

| clip | target | cell | keyframes | q | bytes | PSNR dB | s |
|------|--------|-----:|----------:|---|------:|--------:|--:|
$rows<!-- sketch-rd:end -->" | python3 scripts/bench-section.py sketch-rd
