#!/usr/bin/env bash
# Training throughput of the default denoiser (16 frames at 128x128, batch $BATCH, $STEPS
# steps from models/default, the latent cache of `scripts/train-gpu.sh pack`): PyTorch
# (train/, f32 eager) and `train-base` (burn's CPU backend) on this machine, and a lent
# GPU's run when GPU_LOG names its train.log. FLOP/s count 3 forward passes per clip
# (DenoiserConfig::flops). Writes the "train-throughput" section of docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-40} batch=${BATCH:-4}
cache=${CACHE:-${RUNS:-$HOME/runs}/base-sketch-v5/latents-v5-16f-128px-160clips-seed0-corpus1484-213.safetensors}
[ -f "$cache" ] || bash scripts/train-gpu.sh pack
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flops=$(PYTHONPATH=train python3 -c "from lora_train.model import CONFIGS; print(3 * CONFIGS['base'].flops(16, 16, 16))")
row() { python3 -c "import sys; r = float(sys.argv[2]); print('| %s | %s | %s | %.2f | %.3f |' % (sys.argv[1], sys.argv[3], sys.argv[4], r, r * $flops / 1e12))" "$@"; }

PYTHONPATH=train python3 -m lora_train.train --data "$cache" --out "$tmp/torch" --init models/default/denoiser.safetensors \
    --batch "$batch" --steps "$steps" --val-every 1000000 --device cpu | tee "$tmp/torch.log"
torch_rate=$(sed -n 's/.*: \([0-9.]*\) clips\/s.*/\1/p' "$tmp/torch.log")

cargo build -j2 --release -p lora-video
mkdir -p "$tmp/burn" && ln -s "$cache" "$tmp/burn/$(basename "$cache")"
target/release/lora-video train-base -q -o "$tmp/burn" --config base --init models/default/denoiser.safetensors \
    --clips 160 --frames 16 --size 128 --batch "$batch" --steps "$steps" --val-every "$steps" 2>&1 | tee "$tmp/burn.log"
burn_rate=$(sed -n 's/.*(\([0-9.]*\) clips\/s).*/\1/p' "$tmp/burn.log")

cpu="$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
rows="$(row "PyTorch $(python3 -c 'import torch; print(torch.__version__)') (train/), f32" "$torch_rate" "CPU ($cpu)" "$batch")
$(row "train-base (burn, flex)" "$burn_rate" "CPU ($cpu)" "$batch")"
if [ -n "${GPU_LOG:-}" ]; then
    gpu_rate=$(sed -n 's/.*: \([0-9.]*\) clips\/s.*/\1/p' "$GPU_LOG")
    rows+=$'\n'"$(row "PyTorch (train/), bf16, torch.compile" "$gpu_rate" "$(cat "$(dirname "$GPU_LOG")/gpu.txt")" "${GPU_BATCH:-64}")"
fi
printf '%s\n' "<!-- train-throughput:begin -->
## Training throughput

\`bash scripts/bench-train.sh\` ($(date -u +%Y-%m-%d)): the default denoiser (1.02 M
parameters), 16 frames at 128x128, $steps steps from models/default, validation not
counted. TFLOP/s are model FLOPs (3 forward passes per clip, $(python3 -c "print(round($flops / 1e9, 2))") GFLOP), not
hardware peak.

| trainer | device | batch | clips/s | TFLOP/s |
|---------|--------|------:|--------:|--------:|
$rows
<!-- train-throughput:end -->" | python3 scripts/bench-section.py train-throughput
