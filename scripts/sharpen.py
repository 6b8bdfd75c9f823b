"""The decode's sharpening (shared/src/sharpen.rs, SPEC.md "Sharpening") applied to a
decoded clip, to choose its amount without re-encoding: each frame gains A times its
luma minus the luma blurred ([1, 4, 6, 4, 1]/16 along x, then y, edges repeated), in
every channel; written as OUT_NN.png for `lora-video compare`. Needs numpy and PyPI's
imageio-ffmpeg (as .ci/run installs). 256x256 frames.
    python3 scripts/sharpen.py DECODE.y4m OUT A
"""
import sys, subprocess, numpy as np, imageio_ffmpeg
FF = imageio_ffmpeg.get_ffmpeg_exe()
src, out, a = sys.argv[1], sys.argv[2], float(sys.argv[3])
raw = subprocess.run([FF, '-v', 'error', '-i', src, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], capture_output=True, check=True).stdout
x = np.frombuffer(raw, np.uint8).reshape(-1, 256, 256, 3).astype(np.float32) / 255
k = np.array([1, 4, 6, 4, 1], np.float32) / 16
def blur(y):
    p = np.pad(y, ((0, 0), (2, 2), (0, 0)), mode='edge')
    y = sum(k[i] * p[:, i:i + y.shape[1], :] for i in range(5))
    p = np.pad(y, ((0, 0), (0, 0), (2, 2)), mode='edge')
    return sum(k[i] * p[:, :, i:i + y.shape[2]] for i in range(5))
y = x @ np.array([0.299, 0.587, 0.114], np.float32)
x = x + (a * (y - blur(y)))[..., None]
o = (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
for i, f in enumerate(o):
    subprocess.run([FF, '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '256x256', '-i', '-', f'{out}_{i:02d}.png'], input=f.tobytes(), check=True)
