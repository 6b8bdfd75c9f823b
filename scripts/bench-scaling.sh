#!/usr/bin/env bash
# Inference-time scaling at equal total bytes: each dev clip (tree, vtest; 8 frames at
# 128x128) encoded with `--bytes 1200` without scaling and with several M and scaled
# steps (the choices come out of the same budget, so the vector gets fewer bytes);
# every decode scored against the source. Writes docs/BENCHMARKS.md's "scaling" section.
#   bash scripts/bench-scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
cargo test -j2 -q --workspace --no-run
bin=target/debug/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=${OUT:-target/scaling}
mkdir -p "$out"
avi="$LORA_VIDEO_DATA/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data"
rows=""
for spec in "tree 400" "vtest 700"; do
    set -- $spec
    name=$1 start=$2
    for cfg in "none|" "64, all steps|--scaling 64" "1024, all steps|--scaling 1024" "1024, steps 0-2|--scaling 1024 --scale-steps 0,1,2" "4096, all steps|--scaling 4096"; do
        label=${cfg%%|*} opts=${cfg#*|}
        tag=$name-$(echo "$label" | tr -c 'a-z0-9' '_')
        # shellcheck disable=SC2086
        $bin encode -q --json -i "$avi/$name.avi" --start "$start" --frames 8 --size 128x128 --bytes 1200 $opts \
            -o "$out/$tag.lvc" --write-source "$out/$name-src.y4m" > "$out/$tag.json"
        $bin decode -q -i "$out/$tag.lvc" -o "$out/$tag.y4m" > /dev/null
        $bin compare --json "$out/$name-src.y4m" "$out/$tag.y4m" > "$out/$tag.cmp.json"
        rows+=$(python3 - "$out/$tag.json" "$out/$tag.cmp.json" "$name-$start" "$label" <<'PY'
import json, sys
e, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
s = e.get("scaling") or {}
bits = s.get("choice_bits", 0)
unscaled = f"{s['unscaled_latent_mse']:.3f}" if s else "-"
extra = f"{s['seconds']:.0f}" if s else "0"
print(f"| {sys.argv[3]} | {sys.argv[4]} | {e['bytes']} | {bits} | {e['quant_step']:.4f} | {e['latent_mse']:.3f} | {unscaled} | {c['psnr']:.2f} | {c['msssim']:.4f} | {c['ssimulacra2']:.1f} | {extra} |")
PY
)$'\n'
    done
done
printf '%s\n' "<!-- scaling:begin -->
## Inference-time scaling at equal bytes

\`bash scripts/bench-scaling.sh\`, $(date -u +%Y-%m-%d), $(nproc) cores, base model \`base.lvm\`
($(sha256sum base.lvm | cut -c1-12)...). Each row: \`lora-video encode --bytes 1200\` (default
preset, greedy choice, eta 1) of 8 frames at 128x128 from the held-out part of the clip;
the scaling choices come out of the same 1,200 bytes, so the vector's quantiser is
coarser. Latent MSE: the decode's latents against the clip's; \"unscaled\": the same clip
decoded without its choices (plain Euler). Scores: \`lora-video compare\` against the
encoded frames. Scaling s: the extra encode time of choosing.

| clip | M, scaled steps | bytes | choice bits | quantiser step | latent MSE | unscaled | PSNR dB | MS-SSIM | SSIMULACRA2 | scaling s |
|------|-----------------|------:|------------:|---------------:|-----------:|---------:|--------:|--------:|------------:|----------:|
${rows}<!-- scaling:end -->" | python3 scripts/bench-section.py scaling
