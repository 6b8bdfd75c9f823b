#!/usr/bin/env python3
"""The sketch as a still-image coder: frame 0 of each dev clip (256x256) coded by the
sketch search (`--example sketch_rd --frames 1`) and by SVT-AV1, JPEG 2000 (OpenJPEG),
JPEG XL and WebP, each at the largest size within the same bytes (a search over its
quality setting), scored by `lora-video compare` (PSNR in RGB, MS-SSIM, SSIMULACRA2).
Run by scripts/bench-intra.sh, which writes the table into docs/BENCHMARKS.md.
Usage: bench-intra.py FFMPEG OUT_DIR BUDGET... < bench/dev-clips.txt (paths expanded)"""
import os, re, subprocess, sys

ffmpeg, out, budgets = sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3:]]
lv, sketch_rd = "target/release/lora-video", "target/release/examples/sketch_rd"

# Each codec: its quality settings, from the most bytes to the fewest, and the ffmpeg
# output options and file suffix for one setting.
CODECS = {
    "svt-av1": (list(range(1, 64)), lambda s: ["-pix_fmt", "yuv420p", "-c:v", "libsvtav1", "-preset", "4", "-crf", str(s), "-f", "obu"], "obu"),
    "jpeg2000": (list(range(10, 400, 2)), lambda s: ["-pix_fmt", "yuv420p", "-c:v", "libopenjpeg", "-format", "j2k", "-irreversible", "1", "-compression_level", str(s)], "j2k"),
    "jpeg-xl": ([round(0.5 + 0.25 * i, 2) for i in range(59)], lambda s: ["-c:v", "libjxl", "-effort", "9", "-distance", str(s)], "jxl"),
    "webp": (list(range(100, -1, -1)), lambda s: ["-c:v", "libwebp", "-quality", str(s), "-compression_level", "6"], "webp"),
}


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def scores(src, test):
    text = run([lv, "compare", src, test])
    m = re.search(r"PSNR ([\d.]+) dB.*MS-SSIM ([\d.]+).*SSIMULACRA2 (-?[\d.]+)", text)
    return m.groups()


def fit(codec, src, budget, stem):
    """The codec's file at the finest setting within budget (bytes are about monotone in
    the setting, so a binary search), decoded to PNG: (bytes, setting, png) or None."""
    settings, options, suffix = CODECS[codec]
    path = lambda i: f"{stem}-{i}.{suffix}"
    size = {}

    def code(i):
        if i not in size:
            run([ffmpeg, "-loglevel", "error", "-y", "-i", src, "-frames:v", "1", *options(settings[i]), path(i)])
            size[i] = os.path.getsize(path(i))
        return size[i]

    lo, hi = 0, len(settings) - 1
    if code(hi) > budget:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if code(mid) <= budget:
            hi = mid
        else:
            lo = mid + 1
    # Every setting tried keeps its file, so the chosen one (tried: it ended the search) is there.
    run([ffmpeg, "-loglevel", "error", "-y", "-i", path(lo), "-frames:v", "1", "-pix_fmt", "rgb24", f"{stem}-dec_00.png"])
    return size[lo], settings[lo], f"{stem}-dec_%02d.png"


rows = []
for line in sys.stdin:
    if not line.strip() or line.startswith("#"):
        continue
    path, start = line.split()
    name = f"{os.path.basename(path).rsplit('.', 1)[0]}-{start}"
    prefix = f"{out}/{name}"
    text = run([sketch_rd, path, "--start", start, "--frames", "1", "--y4m", prefix, *map(str, budgets)])
    src = f"{prefix}-src_%02d.png"
    for budget, result in zip(budgets, text.strip().splitlines()):
        m = re.search(r"q_luma: (\d+).*?(\d+) bytes, [\d.]+ dB", result)
        q, sketch_bytes = m.groups()
        rows.append((name, budget, "sketch", sketch_bytes, f"q {q}", *scores(src, f"{prefix}-{budget}.y4m")))
        for codec in CODECS:
            got = fit(codec, f"{prefix}-src_00.png", budget, f"{prefix}-{codec}-{budget}")
            if got is None:
                rows.append((name, budget, codec, "none fits", "", "", "", ""))
            else:
                rows.append((name, budget, codec, got[0], f"{got[1]}", *scores(src, got[2])))
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")
