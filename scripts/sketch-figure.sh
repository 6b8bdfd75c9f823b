#!/usr/bin/env bash
# docs/images/sketch.png: each demo sample (web/demo/samples/tree.lvc, vtest.lvc: 16 frames
# at 256x256 in 2,400 bytes) beside its original frames, and the same clip rendered with
# `--sketch off` (the adapter alone) and `--strength 0` (the sketch alone); frames 0, 5,
# 10 and 15 per row. Needs ffmpeg, the data of fetch-data.sh --test and base.lvm.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bash scripts/fetch-data.sh --test)/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data
cargo build -j2 --release -p lora-video
bin=target/release/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=$(mktemp -d)
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
rows=()
i=0
row() { # label, then four PNGs
    ffmpeg -nostdin -v error -y -i "$2" -i "$3" -i "$4" -i "$5" \
        -filter_complex "[0][1][2][3]hstack=4,scale=iw/2:ih/2,pad=iw+300:ih:300:0:white,drawtext=fontfile=$font:text='$1':x=10:y=(h-th)/2:fontsize=16:fontcolor=black" \
        "$out/row$i.png"
    rows+=(-i "$out/row$i.png")
    i=$((i + 1))
}
while read -r name file start; do
    clip=web/demo/samples/$name.lvc
    bytes=$(stat -c %s "$clip")
    $bin encode -q -i "$data/$file" --start "$start" --stage1 1 --stage2 0 --scaling 0 --sketch off --write-source "$out/$name-src_%02d.png" -o "$out/unused.lvc" > /dev/null
    row "$name original" "$out/$name-src_00.png" "$out/$name-src_05.png" "$out/$name-src_10.png" "$out/$name-src_15.png"
    $bin decode -q -i "$clip" -o "$out/$name-dec_%02d.png"
    row "$name decode ($bytes B)" "$out/$name-dec_00.png" "$out/$name-dec_05.png" "$out/$name-dec_10.png" "$out/$name-dec_15.png"
    $bin render -q -i "$clip" --strength 0 -o "$out/$name-s0_%02d.png"
    row "$name sketch alone" "$out/$name-s0_00.png" "$out/$name-s0_05.png" "$out/$name-s0_10.png" "$out/$name-s0_15.png"
    $bin render -q -i "$clip" --sketch off -o "$out/$name-off_%02d.png"
    row "$name adapter alone" "$out/$name-off_00.png" "$out/$name-off_05.png" "$out/$name-off_10.png" "$out/$name-off_15.png"
done <<'CLIPS'
tree tree.avi 400
vtest vtest.avi 700
CLIPS
ffmpeg -v error -y "${rows[@]}" -filter_complex "vstack=$i" docs/images/sketch.png
echo docs/images/sketch.png
