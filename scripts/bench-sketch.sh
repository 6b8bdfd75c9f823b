#!/usr/bin/env bash
# The sketch alone, before the model: for each dev clip (16 frames at 256x256), what the
# encoder's sketch search picks at 300, 900, 2,400 and 4,000 bytes of sketch section and
# without a budget (sketch::LAMBDA), its bytes and the PSNR of its upsampled, blended
# decode (the model's condition) against the frames (`--example sketch_rd`), for both
# codings: the transform (what `encode` writes: version 6 with the wavelet, 3 or 4 with
# the DCT, 4 with motion) and predicted samples (version 2). Writes docs/BENCHMARKS.md's "sketch-rd" section. About
# 15 minutes on 2 cores before motion; with motion and both spatial bases each transform
# search takes about 75 s, so expect about 30 minutes. Needs ffmpeg and the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
cargo build -j2 --release -p lora-video --example sketch_rd
rows=""
while read -r path start; do
    path=$(eval echo "$path")
    name=$(basename "$path" .avi)-$start
    for coding in transform samples; do
        flag=$([ "$coding" = samples ] && echo --samples || true)
        while IFS= read -r line; do
            rows+=$(python3 -c '
import re, sys
name, coding, line = sys.argv[1:4]
m = re.match(r"(\w+)\(([\d.]+)\): SketchParams \{ cell_log2: (\d+), keyframes: (\d+), q_luma: (\d+), q_chroma: (\d+) \} (None|Some\(Transform \{ tilt: (\d+), decay: \[\d+, \d+\], levels: (\d+)(?:, adaptive: \w+)? \}\)), (no motion|motion (\d+) bytes), (\d+) bytes, ([\d.]+) dB \(([\d.]+) s\)", line)
kind, value, cell, k, ql, qc, _, tilt, levels, _, motion, size, psnr, secs = m.groups()
target = f"{value} bytes" if kind == "Bytes" else f"lambda {float(value):.0f}"
basis = f"wavelet {levels}" if levels and levels != "0" else "DCT"
coding = f"{basis}, tilt {tilt}" if tilt else "samples"
print(f"| {name} | {target} | {coding} | {1 << int(cell)} | {k} | {ql} / {qc} | {motion or 0} | {size} | {psnr} | {secs} |")' "$name" "$coding" "$line")$'\n'
        done < <(target/release/examples/sketch_rd "$path" --start "$start" $flag 300 900 2400 4000 l=15000)
    done
done < <(grep -v '^#' bench/dev-clips.txt)
printf '%s\n' "<!-- sketch-rd:begin -->
## The sketch alone, before the model

\`bash scripts/bench-sketch.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, release build): each dev clip,
16 frames at 256x256. What \`sketch::search\` picks for a sketch section of at most the
given bytes, and without a budget (the least squared error plus lambda per bit, what a
plain \`encode\` uses), for each coding (transform, what \`encode\` writes: its
spatial basis, the wavelet with its levels (version 6, adaptive models) or the DCT (version 3, or 4 with
motion); samples: version 2): cell side (pixels), keyframes, luma / chroma q
(samples: the step; transform: the step is 2^(q/16 - 2) at the lowest frequency), the
bytes of motion within the section (0: none), the section's bytes, and
the PSNR (RGB) of the decode the model is conditioned on (keyframes upsampled and
blended in time, along the motion if any) against the frames. Seconds: the search alone.

| clip | target | coding | cell | keyframes | q | motion | bytes | PSNR dB | s |
|------|--------|--------|-----:|----------:|---|-------:|------:|--------:|--:|
$rows<!-- sketch-rd:end -->" | python3 scripts/bench-section.py sketch-rd
