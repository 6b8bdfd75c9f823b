#!/usr/bin/env bash
# The sketch as a still-image coder: frame 0 of each dev clip at 256x256, coded by the
# sketch search and by SVT-AV1, JPEG 2000, JPEG XL and WebP at the same bytes
# (scripts/bench-intra.py). Writes docs/BENCHMARKS.md's "sketch-intra" section. About
# a minute on 2 cores. Needs the static ffmpeg of PyPI's imageio-ffmpeg (.ci/run
# installs it) and the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
cargo build -j2 --release -p lora-video --bin lora-video --example sketch_rd
ffmpeg=$(python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')
out=target/bench-intra
mkdir -p $out
budgets="400 850 1600"
rows=$(grep -v '^#' bench/dev-clips.txt | while read -r path start; do echo "$(eval echo "$path") $start"; done |
    python3 scripts/bench-intra.py "$ffmpeg" $out $budgets)
printf '%s\n' "<!-- sketch-intra:begin -->
## The sketch as a still-image coder

\`bash scripts/bench-intra.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, release build, $("$ffmpeg" -version | head -1 | cut -d' ' -f1-3)):
frame 0 of each dev clip at 256x256, coded once by the sketch search (\`--example
sketch_rd --frames 1\`: one keyframe, the section's bytes) and by each image codec at
the finest setting whose file fits the same budget (SVT-AV1: one frame, preset 4, the
raw OBU stream; JPEG 2000: OpenJPEG's irreversible 9/7 codestream, setting = compression
ratio / 2; JPEG XL: effort 9, setting = distance, at most 15; WebP: method 6, setting =
quality). Each file counts whole, headers included. Scores: \`lora-video compare\`
(PSNR in RGB, MS-SSIM on luma, SSIMULACRA2).

| clip | budget | coder | bytes | setting | PSNR dB | MS-SSIM | SSIMULACRA2 |
|------|-------:|-------|------:|---------|--------:|--------:|------------:|
$rows
<!-- sketch-intra:end -->" | python3 scripts/bench-section.py sketch-intra
