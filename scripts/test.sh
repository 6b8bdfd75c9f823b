#!/usr/bin/env bash
# Every test: fetch the test data (cached outside the repo), the native workspace tests,
# the golden vectors compiled to wasm32 and run under node, the browser tests in headless
# chromium, then a compile check of the fuzz targets. `.ci/run` installs the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-data.sh --test
cargo test --workspace -j2
bash scripts/test-wasm.sh
bash scripts/test-browser.sh
cargo check -j2 --manifest-path fuzz/Cargo.toml --bins
