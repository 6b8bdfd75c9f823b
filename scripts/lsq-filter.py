#!/usr/bin/env python3
"""A post-filter experiment (docs/BENCHMARKS.md, session-16 note): fits one symmetric
(2R+1)^2 filter, shared by R, G and B, in least squares from a decode to its source
frames (as AV1's loop restoration fits a Wiener filter per frame), applies it, prints
the PSNR before and after and writes the filtered decode as 4:4:4 y4m for
`lora-video compare`. Needs numpy and PyPI's imageio-ffmpeg.

python3 scripts/lsq-filter.py 'SRC_%02d.png' DECODE.y4m [R=3] [OUT.y4m]
"""
import subprocess
import sys

import imageio_ffmpeg
import numpy as np

FF = imageio_ffmpeg.get_ffmpeg_exe()


def frames(args, size):
    raw = subprocess.check_output([FF, "-v", "error", *args, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    w, h = size
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float64)


def taps(x, r):
    """Each pixel's neighbours at (dy, dx) and (-dy, -dx) summed, one column a pair."""
    pad = np.pad(x, ((0, 0), (r, r), (r, r)), mode="edge")
    h, w = x.shape[1:]
    cols = []
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if (dy, dx) < (0, 0):
                continue
            a = pad[:, r + dy:r + dy + h, r + dx:r + dx + w]
            cols.append(a if (dy, dx) == (0, 0) else a + pad[:, r - dy:r - dy + h, r - dx:r - dx + w])
    return np.stack([c.ravel() for c in cols], 1)


def psnr(a, b):
    return 10 * np.log10(255**2 / ((a - b) ** 2).mean())


def main():
    src_pattern, decode = sys.argv[1], sys.argv[2]
    r = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    out = sys.argv[4] if len(sys.argv) > 4 else "filtered.y4m"
    header = open(decode, "rb").readline().split()
    size = (int(header[1][1:]), int(header[2][1:]))
    src, dec = frames(["-i", src_pattern], size), frames(["-i", decode], size)
    x = np.concatenate([taps(dec[..., c], r) for c in range(3)])
    y = np.concatenate([src[..., c].ravel() for c in range(3)])
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    filtered = np.stack([(taps(dec[..., c], r) @ coef).reshape(dec.shape[:3]) for c in range(3)], -1)
    filtered = np.round(np.clip(filtered, 0, 255))
    print(f"PSNR {psnr(dec, src):.2f} dB -> {psnr(filtered, src):.2f} dB (radius {r}, {len(coef)} taps)")
    w, h = size
    enc = [FF, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "24", "-i", "-", "-pix_fmt", "yuv444p", "-strict", "-1", out]
    subprocess.run(enc, input=filtered.astype(np.uint8).tobytes(), check=True)


if __name__ == "__main__":
    main()
