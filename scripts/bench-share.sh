#!/usr/bin/env bash
# How the budget's split between sketch and vector changes the decode: each dev clip
# (16 frames at 256x256, 2,400 bytes, fast preset) encoded with `--sketch-share S` for
# each S in $SHARES (default "0.97 1.0") and `--sharpen` A in $SHARPENS (default: the
# encoder's), decoded, and scored against its source frames (PSNR, MS-SSIM, SSIMULACRA2,
# VMAF, VMAF-NEG). Writes docs/BENCHMARKS.md's "sketch-share" section. About 25 minutes
# per (S, A) pair on 2 cores. Needs ffmpeg and the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
shares=${SHARES:-0.97 1.0}
sharpens=${SHARPENS:-default}
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
python3 -c "import imageio_ffmpeg" 2>/dev/null || pip install -q imageio-ffmpeg==0.8.1
vmaf=$(python3 -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
cargo build -j2 --release -p lora-video
bin=target/release/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=${OUT:-target/share}
mkdir -p "$out"
rows=""
while read -r path start; do
    path=$(eval echo "$path")
    name=$(basename "$path" .avi)-$start
    for s in $shares; do
      for a in $sharpens; do
        f="$out/$name-$s-$a"
        sharpen=()
        [ "$a" = default ] || sharpen=(--sharpen "$a")
        $bin encode -q -i "$path" --start "$start" --frames 16 --size 256x256 --bytes 2400 --preset fast --sketch-share "$s" "${sharpen[@]}" --write-source "$out/$name-src_%02d.png" -o "$f.lvc"
        $bin decode -q -i "$f.lvc" -o "$f.y4m"
        parts=$($bin info "$f.lvc" | sed -n 's/ *parts *//p')
        amount=$($bin info --json "$f.lvc" | python3 -c 'import json, sys; s = json.load(sys.stdin)["header"]["sketch"]; print((s or {}).get("sharpen", 0) / 16)')
        score=$($bin compare --json --vmaf "$vmaf" "$out/$name-src_%02d.png" "$f.y4m")
        rows+=$(python3 -c 'import json, sys; s = json.loads(sys.argv[1]); print("| %s | %s | %s | %s | %.2f | %.4f | %.2f | %.2f | %.2f |" % (sys.argv[2], sys.argv[3], sys.argv[5], sys.argv[4], s["psnr"], s["msssim"], s["ssimulacra2"], s["vmaf"], s["vmaf_neg"]))' "$score" "$name" "$s" "$parts" "$amount")$'\n'
      done
    done
done < <(grep -v '^#' bench/dev-clips.txt)
printf '%s\n' "<!-- sketch-share:begin -->
## The split between sketch and vector

\`bash scripts/bench-share.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, base model \`base.lvm\`
($(sha256sum base.lvm | cut -c1-12)...)): each dev clip, 16 frames at 256x256 in 2,400
bytes, fast preset, with \`--sketch-share\` S (the share of the room beside the header
that the sketch may take; the vector gets the rest). Scores of the decode against the
source frames; VMAF through PyPI imageio-ffmpeg's ffmpeg (libvmaf, vmaf_v0.6.1).

| clip | share | sharpen | parts (bytes) | PSNR dB | MS-SSIM | SSIMULACRA2 | VMAF | VMAF-NEG |
|------|------:|--------:|---------------|--------:|--------:|------------:|-----:|---------:|
$rows<!-- sketch-share:end -->" | python3 scripts/bench-section.py sketch-share
