#!/usr/bin/env bash
# Re-encode the browser fixtures (tests/browser/fixtures/) with the tiny test model:
# vtest from frame 700, 4 frames at 64x64, sketch start 26 (at the default 8 the tiny
# model's change is below 8 bits, so the render controls would not show). tiny.lvc has
# the residual decode; tiny-scaled.lvc has inference-time scaling (M = 16 at steps 0-6)
# and the plain decode (--no-residual), so the browser tests cover both. Run it after the
# format or the encoder changes. Needs the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bash scripts/fetch-data.sh --test)/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data
cargo build -j2 --release -p lora-video
bin=target/release/lora-video
tiny=$(mktemp -d)/tiny.lvm
$bin pack-base --denoiser models/tiny/denoiser.safetensors -o "$tiny"
f=tests/browser/fixtures
common=(-q -i "$data/vtest.avi" --start 700 --frames 4 --size 64x64 -m "$tiny" --sketch-start 26)
$bin encode "${common[@]}" --scaling 0 --title "vtest, tiny model" -o $f/tiny.lvc
$bin encode "${common[@]}" --scaling 16 --scale-steps 0,1,2,3,4,5,6 --no-residual -o $f/tiny-scaled.lvc
