#!/usr/bin/env bash
# Build web/dist from a clean clone: the wasm decoder (wasm-bindgen --target web, then
# wasm-opt when available), the element and its worker, the base model (pack-base) and
# the demo site with its committed sample clips.
#   bash scripts/build-web.sh            default model (models/default)
#   MODEL=tiny bash scripts/build-web.sh the tiny test model (the browser tests)
#   NO_WASM_OPT=1 ...                    skip wasm-opt
#   BIN=target/release/lora-video ...    pack with that binary (no test build)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${MODEL:-default}
dist=${DIST:-web/dist}
cargo build -j2 --profile wasm -p lora-video-decoder-wasm --target wasm32-unknown-unknown
mkdir -p "$dist"
wasm-bindgen --target web --no-typescript --out-dir "$dist" target/wasm32-unknown-unknown/wasm/lora_video_decoder_wasm.wasm
# wasm-opt: binaryen >= 116 on PATH, else npm's binaryen 132 (tests/browser/package.json).
# NO_WASM_OPT=1 skips it (the browser tests do: it takes minutes on 2 cores).
opt=""
if [ -n "${NO_WASM_OPT:-}" ]; then
    :
elif command -v wasm-opt >/dev/null && [ "$(wasm-opt --version | grep -o '[0-9]\+' | head -1)" -ge 116 ]; then
    opt=wasm-opt
elif command -v npm >/dev/null && (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    opt=tests/browser/node_modules/.bin/wasm-opt
fi
if [ -n "$opt" ]; then
    $opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
        "$dist/lora_video_decoder_wasm_bg.wasm" -o "$dist/lora_video_decoder_wasm_bg.wasm"
else
    [ -n "${NO_WASM_OPT:-}" ] || echo "no wasm-opt (binaryen >= 116): the .wasm is not size-optimised" >&2
fi
cp web/lora-video.js web/worker.js "$dist/"
# The same build as `cargo test --workspace` (one feature set, so burn is built once);
# BIN=target/release/lora-video uses that build instead (the .lvm is the same bytes).
bin=${BIN:-target/debug/lora-video}
[ -n "${BIN:-}" ] || cargo test -j2 -q --workspace --no-run
"$bin" pack-base --denoiser "models/$model/denoiser.safetensors" -o "$dist/base.lvm"
rm -rf "$dist/demo" && cp -r web/demo "$dist/demo"
# The original frames beside each sample, where the source is at hand (fetched by
# scripts/fetch-data.sh --test; third-party, so made here and never committed).
src="${LORA_VIDEO_DATA:-$HOME/.cache/lora-video/data}/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data"
if command -v ffmpeg >/dev/null && [ -d "$src" ]; then
    mkdir -p "$dist/demo/originals"
    python3 -c 'import json, sys; [print(s["name"], s["source"].split("/")[-1], s["start"], s["frames"]) for s in json.load(open(sys.argv[1]))]' web/demo/samples/samples.json |
    while read -r name file start frames; do
        # Frame numbers as the encoder counts them: after ffmpeg's constant-rate output.
        { ffmpeg -v quiet -nostdin -i "$src/$file" -an -frames:v $((start + frames)) -pix_fmt yuv444p -f yuv4mpegpipe - || true; } |
        ffmpeg -v error -nostdin -y -f yuv4mpegpipe -i - -frames:v 1 \
            -vf "select=between(n\,$start\,$((start + frames - 1))),scale=128:128:force_original_aspect_ratio=increase,crop=128:128,tile=8x$(((frames + 7) / 8))" \
            "$dist/demo/originals/$name.png"
    done
fi
echo "$dist"
