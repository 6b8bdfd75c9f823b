#!/usr/bin/env bash
# Browser tests of <lora-video> in Debian's headless chromium (tests/browser/run.mjs),
# on the tiny test model: the committed sample decodes on the CPU and (where chromium
# offers an adapter) on WebGPU, matching the native decoder within 40 dB; bad src and a
# wrong-model clip give typed error events; a second element reuses the cached model;
# the render controls (seed, strength, steps, mix-src, mix, sketch, sketch-src, sharpen) match
# `lora-video render`;
# a clip with inference-time scaling replays its choices like the native decoder.
# The fixtures are made by scripts/make-fixtures.sh.
#   BENCH=out.json bash scripts/test-browser.sh   also writes the timings
set -euo pipefail
cd "$(dirname "$0")/.."
dist=target/web-test
NO_WASM_OPT=1 MODEL=tiny DIST=$dist bash scripts/build-web.sh >/dev/null
fix=$(mktemp -d)
cp tests/browser/fixtures/tiny.lvc tests/browser/fixtures/tiny-scaled.lvc "$fix/"
cp web/demo/samples/tree.lvc "$fix/wrong-model.lvc"   # made for the default model
target/debug/lora-video decode -q -i "$fix/tiny.lvc" -m "$dist/base.lvm" -o "$fix/ref_%02d.png"
target/debug/lora-video decode -q -i "$fix/tiny-scaled.lvc" -m "$dist/base.lvm" -o "$fix/scaled_%02d.png"
# References for the render controls (seed, strength; a merge with mix and steps).
target/debug/lora-video render -q -i "$fix/tiny.lvc" -m "$dist/base.lvm" --seed 7 --strength 1.5 -o "$fix/render_%02d.png"
target/debug/lora-video render -q -i "$fix/tiny.lvc" -m "$dist/base.lvm" --merge "$fix/tiny.lvc" --mix 0.5 --steps 6 -o "$fix/merge_%02d.png"
# ... and for the sketch controls: none, and another clip's (with another seed).
target/debug/lora-video render -q -i "$fix/tiny.lvc" -m "$dist/base.lvm" --sketch off -o "$fix/nosketch_%02d.png"
target/debug/lora-video render -q -i "$fix/tiny.lvc" -m "$dist/base.lvm" --sketch-from "$fix/tiny-scaled.lvc" --seed 3 -o "$fix/sketchfrom_%02d.png"
target/debug/lora-video render -q -i "$fix/tiny.lvc" -m "$dist/base.lvm" --sharpen 1 -o "$fix/sharpen_%02d.png"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
node tests/browser/run.mjs "$dist" "$fix" ${BENCH:+--bench "$BENCH"}
