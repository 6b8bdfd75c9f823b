#!/usr/bin/env bash
# The restorer's ceiling and what it buys (issue 34), on the dev clips (16 frames at
# 256x256, bench/dev-clips.txt) with the sketch alone at 2,184, 2,384 and 2,584 bytes
# (the search's, `--example sketch_pairs --input`; 2,384 is a 2,400-byte file's room
# beside the header). Prints markdown for docs/BENCHMARKS.md's "The restorer":
#   - the sketch's own slope: every score at the three budgets;
#   - at 2,384 bytes: the sketch alone, + the generic restorer ($MODEL, a restore_train
#     checkpoint or an exported .safetensors), and a restorer overfitted to the clip
#     alone ($OVERFIT_MINUTES minutes, the ceiling);
#   - at about 2,384 bytes in all: the sketch at 2,334 bytes + the restorer + the clip's
#     vector (k = $ADAPT_K values through the index map into LoRA, quantised, ~50 bytes).
# About 20 minutes for the pairs, plus 3 x $OVERFIT_MINUTES (default 12) on one core.
# Needs ffmpeg, PyTorch and the data of fetch-data.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
python3 -c "import imageio_ffmpeg" 2>/dev/null || pip install -q imageio-ffmpeg==0.8.1
python3 -c "import PIL" 2>/dev/null || pip install -q pillow
vmaf=$(python3 -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
cargo build -j2 --release -p lora-video --bin lora-video --example sketch_pairs
pairs=${PAIRS:-target/restorer-pairs}
mkdir -p "$pairs"
names=()
while read -r path start; do
    path=$(eval echo "$path")
    name=$(basename "$path" .avi)
    for b in 2184 2334 2384 2584; do
        [ -f "$pairs/$name-$b.bin" ] || target/release/examples/sketch_pairs "$pairs" --input "$path" --start "$start" --frames 16 --size 256 --bytes $b --name "$name-$b" 2>/dev/null
    done
    names+=("$name")
done < <(grep -v '^#' bench/dev-clips.txt)
export PYTHONPATH=$PWD/train
list() { local IFS=,; echo "${names[*]/%/-$1.bin}"; }
echo "### The sketch's slope"
for b in 2184 2384 2584; do
    python3 -m lora_train.restore_bench --pairs "$pairs" --names "$(list $b)" --ffmpeg "$vmaf" | { [ $b = 2184 ] && cat || tail -n +3; }
done
echo
echo "### At 2,384 bytes"
model=()
[ -n "${MODEL:-}" ] && model=(--model "$MODEL")
python3 -m lora_train.restore_bench --pairs "$pairs" --names "$(list 2384)" --ffmpeg "$vmaf" "${model[@]}" --overfit-minutes "${OVERFIT_MINUTES:-12}"
if [ -n "${MODEL:-}" ]; then
    echo
    echo "### The clip's vector at equal bytes (the sketch at 2,334 bytes)"
    python3 -m lora_train.restore_bench --pairs "$pairs" --names "$(list 2334)" --ffmpeg "$vmaf" "${model[@]}" --adapt-k "${ADAPT_K:-128}"
fi
