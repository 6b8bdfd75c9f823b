#!/usr/bin/env bash
# Encode and decode real held-out clips at the default operating point (16 frames,
# 256x256, default preset) on the CPU; write bytes, PSNR, SSIM, seconds and peak memory
# into docs/BENCHMARKS.md between the "codec" markers.
#   bash scripts/bench-codec.sh            both clips
#   PRESET=fast bash scripts/bench-codec.sh
# Needs ffmpeg (reads the .avi), /usr/bin/time, and `scripts/fetch-data.sh --test`.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bash scripts/fetch-data.sh --test | tail -1)
avi="$data/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data"
preset=${PRESET:-default}
# The release build, as a user runs it (the dev profile's sketch search is about ten
# times slower).
cargo build -j2 -q --release -p lora-video
bin=target/release/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=$(mktemp -d)
rows=""
# name, file, first frame: the last eighth of each clip is the held-out dev split.
for spec in "tree tree.avi 400" "vtest vtest.avi 700"; do
    set -- $spec
    name=$1 file=$2 start=$3
    /usr/bin/time -v -o "$out/$name.enc.time" $bin encode -q --json -i "$avi/$file" --start "$start" --frames 16 \
        --preset "$preset" -o "$out/$name.lvc" --write-source "$out/$name-src.y4m" > "$out/$name.enc.json"
    /usr/bin/time -v -o "$out/$name.dec.time" $bin decode -q --json -i "$out/$name.lvc" -o "$out/$name.y4m" > "$out/$name.dec.json"
    $bin compare --json "$out/$name-src.y4m" "$out/$name.y4m" > "$out/$name.cmp.json"
    rss() { awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }' "$1"; }
    wall() { awk -F': ' '/Elapsed \(wall/ { print $2 }' "$1"; }
    rows+=$(python3 - "$out" "$name" "$file" "$start" "$(wall "$out/$name.enc.time")" "$(rss "$out/$name.enc.time")" "$(wall "$out/$name.dec.time")" "$(rss "$out/$name.dec.time")" <<'EOF'
import json, sys
out, name, file, start, ew, em, dw, dm = sys.argv[1:]
e = json.load(open(f"{out}/{name}.enc.json")); c = json.load(open(f"{out}/{name}.cmp.json"))
print(f"| {file} frames {start}-{int(start)+15} | {e['bytes']} | {e['kbps']} | {c['psnr']:.2f} | {c['ssim']:.4f} | {e['latent_mse']:.3f} / {e['base_latent_mse']:.3f} | {ew} ({em} MiB) | {dw} ({dm} MiB) |")
EOF
)$'\n'
done
cpu=$(lscpu | awk -F': +' '/Model name/ { print $2; exit }')
section="<!-- codec:begin -->
## Encode and decode (CPU)

\`bash scripts/bench-codec.sh\` (preset \`$preset\`), $(date -u +%Y-%m-%d), on $(nproc) cores of $cpu,
burn's flex backend, release build. Each clip: 16 frames of
opencv-doc's footage from the held-out last eighth, scaled to cover 256x256 and
centre-cropped; base model \`base.lvm\` ($(sha256sum base.lvm | cut -c1-12)...). PSNR over RGB and
SSIM on luma (\`lora-video compare\`) of the decode against the encoded frames. Latent
MSE: the decode's latents against the clip's, and the base model's own sample from the
same seed (theta = 0) against the clip's. Times are wall clock (\`/usr/bin/time -v\`),
including model loading; memory is peak RSS.

| clip | bytes | kbps | PSNR dB | SSIM | latent MSE (fit / base) | encode m:ss (peak RSS) | decode m:ss (peak RSS) |
|------|------:|-----:|--------:|-----:|------------------------:|----------------:|----------------:|
${rows}
No GPU was lent to the session that ran this, so there is no GPU row.
<!-- codec:end -->"
printf '%s\n' "$section" | python3 scripts/bench-section.py codec
echo "files: $out"
