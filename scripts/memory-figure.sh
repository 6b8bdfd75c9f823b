#!/usr/bin/env bash
# docs/images/memory.png: one stored clip (web/demo/samples/tree.lvc) rendered again with
# `lora-video render` under several settings, four frames (0, 5, 10, 15) per row, each
# row labelled with its options. Needs ffmpeg and base.lvm (the default model).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -j2 -q --workspace --no-run
bin=target/debug/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=$(mktemp -d)
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
clip=web/demo/samples/tree.lvc
rows=()
i=0
while IFS='|' read -r label opts; do
    # shellcheck disable=SC2086
    $bin render -q -i "$clip" -o "$out/r${i}_%02d.png" $opts < /dev/null > /dev/null
    ffmpeg -nostdin -v error -y -i "$out/r${i}_00.png" -i "$out/r${i}_05.png" -i "$out/r${i}_10.png" -i "$out/r${i}_15.png" \
        -filter_complex "[0][1][2][3]hstack=4,scale=iw/2:ih/2,pad=iw+260:ih:260:0:white,drawtext=fontfile=$font:text='$label':x=10:y=(h-th)/2:fontsize=18:fontcolor=black" \
        "$out/row$i.png"
    rows+=(-i "$out/row$i.png")
    i=$((i + 1))
done <<'ROWS'
decode (as stored)|
seed 1|--seed 1
seed 2|--seed 2
strength 0 (base model)|--strength 0
strength 0.5|--strength 0.5
strength 2|--strength 2
merge vtest.lvc mix 1|--merge web/demo/samples/vtest.lvc --mix 1
sketch off|--sketch off
sketch from vtest.lvc|--sketch-from web/demo/samples/vtest.lvc
ROWS
ffmpeg -v error -y "${rows[@]}" -filter_complex "vstack=$i" docs/images/memory.png
echo docs/images/memory.png
