#!/usr/bin/env bash
# Train the base model on a lent GPU (the session's `device` tool), in one call.
#
#   bash scripts/train-gpu.sh pack          # here: target/gpu-pack/ (<= 64 MiB with the tree)
#   run(command="bash scripts/train-gpu.sh run", carry=["target/gpu-pack"], timeout_s=600)
#   bash scripts/train-gpu.sh import DIR    # here: DIR = the run's files_at folder
#   bash scripts/train-gpu.sh dry-run       # here: all three on the CPU, in about 3 minutes
#
# `run` trains with the PyTorch trainer (train/) in bf16 with torch.compile for $MINUTES
# (default 7) from models/default, validates every $VAL_EVERY steps, and leaves the log,
# the last and the best (lowest held-out loss) EMA weights in $OUT/run. `import`
# validates the returned best model against models/default on the full latent cache and,
# if it is better (or FORCE=1), makes it the default and rebuilds base.lvm.
# Training shifts the positions by up to $SHIFT (default 8: a 256 x 256 decode's), and the
# held-out loss is the mean at shifts 0 and $SHIFT. With $BRIDGE (t0 = start/255, e.g.
# 0.0314 for the encoder's default start 8), sketched clips train on the decoder's path below t0
# (`train.py --bridge`), and `import` judges by that held-out loss.
# Settings (environment): CACHE, CONFIG, INIT, BATCH, LR, MINUTES, VAL_EVERY, SHIFT, BRIDGE, DEVICE.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=target/gpu-pack
runs=${RUNS:-$HOME/runs}
cache=${CACHE:-$runs/base-sketch-v5/latents-v5-16f-128px-160clips-seed0-corpus1484-213.safetensors}
export PYTHONPATH=$PWD/train PYTHONUNBUFFERED=1

do_pack() {
    if [ ! -f "$cache" ]; then  # the latent cache of the default model's second run
        bash scripts/fetch-data.sh
        cargo run -j2 --release -p lora-video -- train-base -o "$(dirname "$cache")" --config base \
            --clips 160 --frames 16 --size 128 --steps 0 --seed 0
    fi
    mkdir -p "$pack"
    python3 -m lora_train.pack "$cache" "$pack/data.safetensors" --norm-from models/default/denoiser.safetensors
    local tree carry
    tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
    carry=$(du -cb "$pack" | tail -1 | cut -f1)
    echo "tree $((tree >> 20)) MiB + pack $((carry >> 20)) MiB of the device tool's 64 MiB"
    [ $((tree + carry)) -lt $((62 << 20)) ] || { echo "too large to carry" >&2; exit 1; }
}

do_run() {
    local out=${OUT:?set by the device tool}/run init=${INIT-models/default/denoiser.safetensors}
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$out/gpu.txt" || true
    python3 -m lora_train.train --data "$pack/data.safetensors" --out "$out" \
        --config "${CONFIG:-base}" ${init:+--init "$init"} \
        --batch "${BATCH:-64}" --lr "${LR:-3e-4}" --steps 1000000000 --minutes "${MINUTES:-7}" \
        --val-every "${VAL_EVERY:-500}" --time-flip --position-shift "${SHIFT:-8}" ${BRIDGE:+--bridge "$BRIDGE"} ${DEVICE:+--device "$DEVICE"} ${EXTRA:-} 2>&1 | tee "$out/train.log"
    rm -f "$out/checkpoint.pt.tmp"
}

do_import() {
    local dir=${1:?usage: train-gpu.sh import DIR} dest=${DEST:-models/default} data=$pack/data.safetensors
    local best=$dir/run/best.safetensors scores
    [ -f "$data" ] || data=$cache  # the pack's held-out clips are the cache's, unquantised
    scores=$(python3 -m lora_train.validate --data "$data" --shift "0,${SHIFT:-8}" ${BRIDGE:+--bridge "$BRIDGE"} "$dest/denoiser.safetensors" "$best")
    echo "$scores"
    # The held-out loss: field 3, or with BRIDGE the bridge loss (field 8, "0.123)").
    if awk -v f="${BRIDGE:+8}" '{ v[NR] = $(f ? f : 3) + 0 } END { exit !(v[2] < v[1]) }' <<<"$scores" || [ "${FORCE:-0}" = 1 ]; then
        cp "$best" "$dest/denoiser.safetensors"
        cp "$dir/run/log.csv" "$dest/training-log-gpu-$(date -u +%F).csv"
        cargo run -j2 --release -p lora-video -- pack-base --denoiser "$dest/denoiser.safetensors" -o "${LVM:-base.lvm}"
        echo "imported: update $dest/MODEL_CARD.md, then regenerate what names the model's hash (scripts/make-samples.sh, the browser fixtures, docs/images)"
    else
        echo "not imported: the returned model is not better on the held-out clips (FORCE=1 imports anyway)"
    fi
}

case ${1:-} in
    pack) do_pack ;;
    run) do_run ;;
    import) shift; do_import "$@" ;;
    dry-run)
        do_pack
        tmp=$(mktemp -d)
        OUT=$tmp/out DEVICE=cpu BATCH=2 MINUTES=${MINUTES:-0.5} VAL_EVERY=20 EXTRA=--compile do_run
        mkdir -p "$tmp/models" && cp models/default/denoiser.safetensors "$tmp/models/"
        DEST=$tmp/models LVM=$tmp/base.lvm FORCE=1 do_import "$tmp/out"
        cargo run -j2 --release -p lora-video -- info "$tmp/base.lvm"
        rm -rf "$tmp"
        ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
