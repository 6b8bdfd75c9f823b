#!/usr/bin/env bash
# Encode the demo's sample clips (web/demo/samples/) with the default model: tree,
# vtest and Megamind (whose sketch carries motion) at the operating point (16 frames at 256x256, 2,400 bytes, default preset) and
# the memory section's clips (8 frames at 128x128, 2,400 bytes, sketch start 51: at the
# default 8 the sampler leaves the sketch almost as it is, so seed, strength and steps
# would not show). Run it after the default
# model changes (the clips name its SHA-256). Needs the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bash scripts/fetch-data.sh --test)/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data
cargo build -j2 --release -p lora-video
bin=target/release/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
s=web/demo/samples
$bin encode -q -i "$data/tree.avi" --start 400 --bytes 2400 -o $s/tree.lvc
$bin encode -q -i "$data/vtest.avi" --start 700 --bytes 2400 -o $s/vtest.lvc
$bin encode -q -i "$data/Megamind.avi" --start 240 --bytes 2400 -o $s/Megamind.lvc
$bin encode -q -i "$data/tree.avi" --start 400 --frames 8 --size 128x128 --bytes 2400 --sketch-start 51 -o $s/memory-tree.lvc
$bin encode -q -i "$data/vtest.avi" --start 700 --frames 8 --size 128x128 --bytes 2400 --sketch-start 51 -o $s/memory-vtest.lvc
for f in $s/*.lvc; do $bin info "$f" | sed -n '1p;/parts/p'; done
