#!/usr/bin/env bash
# Measure lora-video the way codec people do, and write docs/BENCHMARKS.md's "eval-rd",
# "eval-curve" and "eval-speed" sections and their plots (docs/images/eval/):
#   1. `lora-video eval`: rate-distortion against x264, x265 and SVT-AV1 at matched bytes
#      on the dev clips (bench/dev-clips.txt), BD-rates (MS-SSIM, SSIMULACRA2);
#   2. `lora-video eval-curve`: the representation curve, k = 1024, 4096, 16384;
#   3. speed: encode seconds per preset, decode seconds (cpu, wgpu), peak memory;
#   4. (stage "op") the operating point: 16 frames at 256x256 from 300 to 4,000 bytes
#      (2,400 = 0.018 bpp), against each codec at full, 1/2 and 1/4 size (scaled back
#      up), best variant counted; VMAF; BD-rates; the ablation (sketch alone, + vector,
#      + scaling). About 90 minutes on 2 cores.
# Stages rd and curve use 8 frames at 128x128 (the base model's training size); speed
# times the operating point too. rd, curve and speed take about 42 minutes on 2 cores.
#   bash scripts/bench-eval.sh              everything
#   STAGES="rd curve" bash scripts/bench-eval.sh
# Needs ffmpeg with libx264/libx265/libsvtav1 and /usr/bin/time (installed here when run
# as root on Debian), and the TAEF2 weights in ../shared/assets/taef2.
set -euo pipefail
cd "$(dirname "$0")/.."
stages=${STAGES:-rd curve speed op}
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "install: ${need[*]}" >&2; exit 1; }
    apt-get install -y -q "${need[@]}" >/dev/null
fi
# VMAF: the static ffmpeg in PyPI's imageio-ffmpeg has libvmaf (Debian's has none).
python3 -c "import imageio_ffmpeg" 2>/dev/null || pip install -q imageio-ffmpeg==0.8.1
vmaf=$(python3 -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
# The release build: what a user runs. The encoder's own loops (the sketch search) run
# about ten times faster than in the dev profile, and encodes are most of each stage.
cargo build -j2 -q --release -p lora-video
bin=target/release/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=${OUT:-target/eval}
mkdir -p "$out" docs/images/eval
cpu=$(lscpu | awk -F': +' '/Model name/ { print $2; exit }')
machine="$(date -u +%Y-%m-%d), $(nproc) cores of $cpu, burn's flex backend (release profile), base model \`base.lvm\` ($(sha256sum base.lvm | cut -c1-12)...), $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
clock() { date +%s; }

if [[ " $stages " == *" rd "* ]]; then
    t0=$(clock)
    $bin eval --list bench/dev-clips.txt -o "$out/rd" > /dev/null
    t1=$(clock)
    cp "$out"/rd/*.png docs/images/eval/
    plots=$(for f in "$out"/rd/*.png; do n=$(basename "$f"); echo "![$n](images/eval/$n)"; done)
    csvs=$(cd "$out/rd" && ls *.csv | tr '\n' ' ')
    printf '%s\n' "<!-- eval-rd:begin -->
## Rate-distortion against x264, x265 and SVT-AV1

\`bash scripts/bench-eval.sh\` (\`lora-video eval --list bench/dev-clips.txt\`), $machine.
Run time $(( (t1 - t0) / 60 )) min. Each dev clip: 8 frames at 128x128 (cover-scaled,
centre-cropped), scored against those frames: PSNR over RGB, MS-SSIM on luma
(\`av-metrics\`), SSIMULACRA2 (\`ssimulacra2\`). lora-video: \`encode --preset default\`
with \`--bytes\` 300, 600, 1200, 2400 (the whole .lvc counted). Each codec, through
ffmpeg with 4:2:0 chroma, gets the lowest CRF whose payload fits each of lora-video's
byte counts (x264 \`-preset veryslow\` and x265 \`-preset slower\`, SEI NAL units
stripped, Annex B start codes counted; SVT-AV1 \`-preset 4\`, IVF headers not counted).
\"(over)\" marks a codec whose highest CRF is still larger than the target. CSVs:
\`$out/rd/\` ($csvs).

$(cat "$out/rd/summary.md")

$plots
<!-- eval-rd:end -->" | python3 scripts/bench-section.py eval-rd > /dev/null
fi

if [[ " $stages " == *" curve "* ]]; then
    t0=$(clock)
    head_list=$(mktemp)
    grep -v '^#' bench/dev-clips.txt | head -2 > "$head_list"
    $bin eval-curve --list "$head_list" -o "$out/curve" > /dev/null
    t1=$(clock)
    cp "$out"/curve/curve-*.png docs/images/eval/
    printf '%s\n' "<!-- eval-curve:begin -->
## Representation curve (continuous fit)

\`bash scripts/bench-eval.sh\` (\`lora-video eval-curve\` on the first two dev clips), $machine.
Run time $(( (t1 - t0) / 60 )) min. Stage 1 only (no quantisation), rank 3 LoRA for every k (the
least rank that holds k = 16384; this model has 6,144 entries per rank), batch 2,
lr 0.03 with the default preset's cosine schedule stretched to 400 steps; theta decoded
with the clip's own seed at each step count. Cells: PSNR dB / SSIMULACRA2.

$(cat "$out/curve/curve.md")

![curve-psnr](images/eval/curve-psnr.png) ![curve-ssimulacra2](images/eval/curve-ssimulacra2.png)
<!-- eval-curve:end -->" | python3 scripts/bench-section.py eval-curve > /dev/null
fi

if [[ " $stages " == *" speed "* ]]; then
    avi="$LORA_VIDEO_DATA/deb/opencv-doc/usr/share/doc/opencv-doc/examples/data/tree.avi"
    wall() { awk -F': ' '/Elapsed \(wall/ { print $2 }' "$1"; }
    rss() { awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }' "$1"; }
    rows=""
    run() { # label, time file, command...
        local label=$1 tf=$2; shift 2
        if /usr/bin/time -v -o "$tf" "$@" > /dev/null 2> "$tf.err"; then
            rows+="| $label | $(wall "$tf") | $(rss "$tf") |"$'\n'
        else
            rows+="| $label | failed: $(tail -1 "$tf.err" | cut -c1-80) | |"$'\n'
        fi
    }
    for size in 128x128:8 256x256:16; do
        s=${size%%:*} n=${size##*:}
        presets="fast default slow" budget=() at=""
        # The operating point: 2,400 bytes, as the demo's clips; slow there takes ~35 min.
        [ "$s" = 256x256 ] && presets="fast default" budget=(--bytes 2400) at=" at 2,400 bytes"
        for p in $presets; do
            run "encode $n x $s$at, preset $p, cpu" "$out/enc-$s-$p.time" $bin encode -q -i "$avi" --start 400 --frames "$n" --size "$s" "${budget[@]}" --preset "$p" -o "$out/speed-$s-$p.lvc"
        done
        f=$(ls "$out"/speed-$s-*.lvc | head -1)
        run "decode $n x $s, cpu" "$out/dec-$s-cpu.time" $bin decode -q -i "$f" -o "$out/speed-$s.y4m"
        run "decode $n x $s, wgpu" "$out/dec-$s-wgpu.time" env XDG_RUNTIME_DIR=/tmp $bin decode -q --device wgpu -i "$f" -o "$out/speed-$s-wgpu.y4m"
    done
    # The Vulkan drivers installed (wgpu picks among them); lvp is Mesa's lavapipe, a CPU.
    adapter=$(ls /usr/share/vulkan/icd.d/ 2>/dev/null | sed 's/_icd.*//' | sort -u | tr '\n' ' ' || true)
    if [ -e /dev/dri ]; then gpu="a GPU device (/dev/dri) is present"; else gpu="no GPU device (/dev/dri absent), so wgpu can only use lavapipe"; fi
    printf '%s\n' "<!-- eval-speed:begin -->
## Speed and memory

\`bash scripts/bench-eval.sh\`, $machine. tree.avi from frame 400; wall clock and peak
RSS from \`/usr/bin/time -v\`, including model loading and (for encode) TAEF2's encoder.
Vulkan drivers installed for wgpu: ${adapter:-none}; $gpu (\`lvp\`, Mesa's lavapipe,
runs Vulkan on the CPU: then the wgpu rows measure a software GPU, not a GPU).

| run | m:ss | peak RSS MiB |
|-----|-----:|-------------:|
$rows<!-- eval-speed:end -->" | python3 scripts/bench-section.py eval-speed > /dev/null
fi

if [[ " $stages " == *" op "* ]]; then
    t0=$(clock)
    $bin eval --list bench/dev-clips.txt -o "$out/op" --frames 16 --size 256x256 --bytes 300,900,2400,4000 --scales 1,2,4 --preset fast --ablation --vmaf "$vmaf" > /dev/null
    t1=$(clock)
    mkdir -p docs/images/eval/op
    cp "$out"/op/*.png docs/images/eval/op/
    plots=$(for f in "$out"/op/*.png; do n=$(basename "$f"); echo "![$n](images/eval/op/$n)"; done)
    printf '%s\n' "<!-- eval-op:begin -->
## The operating point: 16 frames at 256x256, 300 to 4,000 bytes

\`STAGES=op bash scripts/bench-eval.sh\` (\`lora-video eval --list bench/dev-clips.txt --frames 16
--size 256x256 --bytes 300,900,2400,4000 --scales 1,2,4 --preset fast --ablation --vmaf FFMPEG\`),
$machine. Run time $(( (t1 - t0) / 60 )) min. 2,400 bytes is 0.018 bits per pixel.
lora-video: the default encode at each budget (the sketch that \`--sketch auto\` chooses,
then the vector and scaling choices in what is left), \`fast\` preset. Each codec as in
the section above, also at 1/2 and 1/4 size (area-downscaled before coding, bicubic back
up to score: \`x264/2\`, ...). VMAF: libvmaf's default model (vmaf_v0.6.1), and VMAF-NEG
(vmaf_v0.6.1neg, which does not reward sharpening or added contrast: lora-video's decoder
sharpens by the file's sharpen byte), through the static ffmpeg of PyPI's imageio-ffmpeg
0.8.1, on 4:4:4 y4m of both clips. The ablation
decodes each lora-video file from its sketch alone (theta = 0) and without its scaling
choices. CSVs: \`$out/op/\`.

$(cat "$out/op/summary.md")

$plots
<!-- eval-op:end -->" | python3 scripts/bench-section.py eval-op > /dev/null
fi
echo "results: $out; docs/BENCHMARKS.md updated"
