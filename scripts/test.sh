#!/usr/bin/env bash
# Every test: fetch the test data (cached outside the repo), the native workspace tests,
# the PyTorch trainer's tests (train/), the golden vectors compiled to wasm32 and run
# under node, the browser tests in headless chromium, then a compile check of the fuzz
# targets. `.ci/run` installs the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-data.sh --test
# An ffmpeg with libvmaf for the VMAF test (.ci/run installs PyPI's imageio-ffmpeg).
if vmaf=$(python3 -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())" 2>/dev/null); then
    export LORA_VIDEO_VMAF_FFMPEG=$vmaf
fi
cargo test --workspace -j2
# The PyTorch trainer: parity with burn's golden file, noise, resume, 2-process DDP.
python3 -m unittest discover -s train/tests -t train
bash scripts/test-wasm.sh
bash scripts/test-browser.sh
cargo check -j2 --manifest-path fuzz/Cargo.toml --bins
