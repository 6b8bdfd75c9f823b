#!/usr/bin/env bash
# Build web/dist from a clean clone: the wasm decoder (wasm-bindgen --target web, then
# wasm-opt when available), the element and its worker, the base model (pack-base) and
# the demo site with its committed sample clips.
#   bash scripts/build-web.sh            default model (models/default)
#   MODEL=tiny bash scripts/build-web.sh the tiny test model (the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${MODEL:-default}
dist=${DIST:-web/dist}
cargo build -j2 --profile wasm -p lora-video-decoder-wasm --target wasm32-unknown-unknown
mkdir -p "$dist"
wasm-bindgen --target web --no-typescript --out-dir "$dist" target/wasm32-unknown-unknown/wasm/lora_video_decoder_wasm.wasm
if command -v wasm-opt >/dev/null && [ "$(wasm-opt --version | grep -o '[0-9]\+' | head -1)" -ge 116 ]; then
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
        "$dist/lora_video_decoder_wasm_bg.wasm" -o "$dist/lora_video_decoder_wasm_bg.wasm"
else
    echo "wasm-opt (binaryen >= 116) not found: the .wasm is not size-optimised" >&2
fi
cp web/lora-video.js web/worker.js "$dist/"
cargo build -j2 -p lora-video
target/debug/lora-video pack-base --denoiser "models/$model/denoiser.safetensors" -o "$dist/base.lvm"
rm -rf "$dist/demo" && cp -r web/demo "$dist/demo"
echo "$dist"
