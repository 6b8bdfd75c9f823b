#!/usr/bin/env bash
# Trains the sketch restorer (issue 34) on this machine's CPU, as models/restorer/ was:
# training pairs made by the real sketch encoder from the corpus (fetch-data.sh), then
# `python3 -m lora_train.restore_train train`, then the export burn reads.
#   RANDOM_PAIRS  pairs from one drawn setting of the search's family (default 3000; ~6 min)
#   SEARCH_PAIRS  pairs from the full search (default 37; ~30 s each)
#   MINUTES       training time (default 50), ARGS more trainer options (e.g. --shuffle 4 --width 48)
# Pairs go to $PAIRS (default ~/.cache/lora-video/restorer-pairs), the run to $OUT
# (default ~/runs/restorer); neither is in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=${LORA_VIDEO_DATA:-$HOME/.cache/lora-video/data}
bash scripts/fetch-data.sh >/dev/null
cargo build -j2 --release -p lora-video --example sketch_pairs
pairs=${PAIRS:-$HOME/.cache/lora-video/restorer-pairs}
out=${OUT:-$HOME/runs/restorer}
bin=target/release/examples/sketch_pairs
$bin "$pairs/random" --random --clips "${RANDOM_PAIRS:-3000}" --frames 8 --size 128 --seed 7 2>/dev/null
$bin "$pairs/search" --clips "${SEARCH_PAIRS:-37}" --frames 8 --size 128 --seed 1 2>/dev/null
$bin "$pairs/dev" --random --split dev --clips 60 --frames 8 --size 128 --seed 11 2>/dev/null
export PYTHONPATH=$PWD/train
python3 -m lora_train.restore_train train --pairs "$pairs/random,$pairs/search" --dev "$pairs/dev" \
    --out "$out" --minutes "${MINUTES:-50}" --every 1000 ${ARGS:-}
python3 -m lora_train.restore_train export "$out/restorer.pt" "$out/restorer.safetensors"
