#!/usr/bin/env bash
# The golden vectors (PRNG, Gaussian noise, index map, entropy tables, .lvc and .lvm
# bytes) compiled to wasm32 and run under node: they must equal the x86-64 results.
# Needs the wasm32 target and wasm-bindgen-cli at the Cargo.lock version (.ci/run).
# (The wasm32 build of decoder-wasm is scripts/build-web.sh, run by the browser tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
cargo test -j2 -p lora-video-shared --no-default-features --target wasm32-unknown-unknown --test golden
