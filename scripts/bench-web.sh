#!/usr/bin/env bash
# Sizes of the web decoder and the base model, and time to first frame of <lora-video>
# in headless chromium (cold and warm model cache, CPU and WebGPU), written into
# docs/BENCHMARKS.md between the "web" markers.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
BENCH="$out/times.json" bash scripts/test-browser.sh > "$out/test.log"
bash scripts/build-web.sh > /dev/null
wasm=web/dist/lora_video_decoder_wasm_bg.wasm
size() { stat -c%s "$1"; }
gz() { gzip -9c "$1" | wc -c; }
opt=$({ command -v wasm-opt >/dev/null || [ -x tests/browser/node_modules/.bin/wasm-opt ]; } && echo "after wasm-opt -Oz" || echo "no wasm-opt on this machine")
python3 - "$out/times.json" "$(size $wasm)" "$(gz $wasm)" "$(size web/dist/lora_video_decoder_wasm.js)" "$(size web/dist/base.lvm)" "$(gz web/dist/base.lvm)" "$(size target/web-test/base.lvm)" "$opt" "$(chromium --version 2>/dev/null)" <<'PY' | python3 scripts/bench-section.py web
import json, sys
times, wasm, wasm_gz, js, lvm, lvm_gz, tiny, opt, chromium = sys.argv[1:]
t = json.load(open(times))
def row(name, r):
    if not r:
        return f"| {name} | no adapter offered | |"
    return f"| {name} | {r['cold_ms'] / 1000:.2f} | {r['warm_ms'] / 1000:.2f} |"
section = f"""<!-- web:begin -->
## Web decoder (`bash scripts/bench-web.sh`)

| file | bytes | gzip -9 |
|------|------:|--------:|
| `lora_video_decoder_wasm_bg.wasm` ({opt}) | {int(wasm):,} | {int(wasm_gz):,} |
| `lora_video_decoder_wasm.js` (wasm-bindgen glue) | {int(js):,} | |
| `base.lvm`, default model (downloaded once per origin) | {int(lvm):,} | {int(lvm_gz):,} |
| `base.lvm`, tiny test model | {int(tiny):,} | |

Time to first frame of `<lora-video>` in headless {chromium} on this machine, from
inserting the element to `canplay` (fetch the clip, fetch and verify the model or read
it from the Cache API, load it into the wasm decoder, decode in the worker). Clip: the
tiny test model's `tests/browser/fixtures/tiny.lvc` (4 frames at 64x64); the default
model's 256x256 clips cost about 100x more. Cold: a fresh browser context; warm: a
reload, the model from the cache. WebGPU here is SwiftShader, a CPU emulation, so its
times say nothing about a real GPU.

| backend | cold s | warm s |
|---------|-------:|-------:|
{row("CPU (flex in wasm)", t.get("cpu"))}
{row("WebGPU (SwiftShader)", t.get("webgpu"))}
<!-- web:end -->"""
print(section)
PY
