"""The training data: the latent cache that `lora-video train-base` writes (TAEF2
latents of the corpus, f16), read as it is, and the sketch condition a decoder builds.

Cache tensors: `train`, `dev` [N, T, C, h, w] and `train_sketches`, `dev_sketches`
[N, V, K, C, h, w]: V sketches per clip at random settings, each K keyframes coded,
decoded, upsampled and TAEF2-encoded, as `encoder/src/train.rs` makes them.
"""

import json

import numpy as np
import torch

from . import noise, st
from .model import SKETCH_CHANNELS

# Validation: every held-out clip at these times, with fixed noise (as `train-base`).
VAL_TIMES = (0.1, 0.3, 0.5, 0.7, 0.9)


def keyframe_times(frames, keyframes):
    """`Geometry::keyframe_times`."""
    if keyframes == 1:
        return [(frames - 1) // 2]
    n = keyframes
    return [(2 * k * (frames - 1) + (n - 1)) // (2 * (n - 1)) for k in range(n)]


def frame_weights(frames, keyframes):
    """`sketch::frame_weights` for a clip of `frames`: (a, b, u) per frame, in f32. The
    cache's sketches span the clip's own frames, so each frame's time t is its index."""
    times = keyframe_times(frames, keyframes)
    out = []
    for f in range(frames):
        t = np.float32(f)
        nxt = next((i for i, k in enumerate(times) if np.float32(k) >= t), len(times) - 1)
        if nxt == 0 or np.float32(times[nxt]) <= t:
            out.append((nxt, nxt, np.float32(0)))
        else:
            ta, tb = np.float32(times[nxt - 1]), np.float32(times[nxt])
            out.append((nxt - 1, nxt, (t - ta) / (tb - ta)))
    return out


def latent_norm(train):
    """Per-channel mean and std of the training latents [N, T, C, h, w], as f32 lists."""
    x = train.astype(np.float64).transpose(2, 0, 1, 3, 4).reshape(train.shape[2], -1)
    mean = x.mean(1)
    std = np.sqrt(np.maximum((x * x).mean(1) - mean**2, 1e-6))
    return [float(v) for v in mean.astype(np.float32)], [float(v) for v in std.astype(np.float32)]


class Latents:
    """The cache on `device` (f16), with the latent normalisation (mean, std)."""

    def __init__(self, path, device, norm=None):
        t, meta = st.read(path)
        for name in ("train", "dev", "train_sketches", "dev_sketches"):
            if name not in t:
                raise ValueError(f"{path}: no tensor {name}: not a train-base latent cache")
        if "lora_video_pack" in meta:  # int8 training clips (`pack.py`)
            from .pack import dequantise

            p = json.loads(meta["lora_video_pack"])
            t.update({n: dequantise(t[n], p["mean"], p["std"]) for n in ("train", "train_sketches")})
        self.norm = norm or latent_norm(t["train"])
        self.clip = tuple(t["train"].shape[1:])  # T, C, h, w
        frames, c = self.clip[0], self.clip[1]
        self.variants, self.keyframes = t["train_sketches"].shape[1:3]
        to = lambda a: torch.from_numpy(np.array(a)).to(device)
        self.train, self.dev = to(t["train"]), to(t["dev"])
        self.train_sketches, self.dev_sketches = to(t["train_sketches"]), to(t["dev_sketches"])
        self.mean = torch.tensor(self.norm[0], device=device).reshape(1, c, 1, 1)
        self.std = torch.tensor(self.norm[1], device=device).reshape(1, c, 1, 1)
        w = frame_weights(frames, self.keyframes)
        self.a = torch.tensor([x[0] for x in w], device=device)
        self.b = torch.tensor([x[1] for x in w], device=device)
        self.u = torch.tensor([float(x[2]) for x in w], device=device).reshape(1, frames, 1, 1, 1)
        self._val_noise = {}

    def normalise(self, z):
        return (z.float() - self.mean) / self.std

    def clips(self, split, idx):
        """Clips `idx` of "train" or "dev", normalised: [B, T, C, h, w]."""
        return self.normalise(getattr(self, split)[idx])

    def condition(self, split, idx, variant, keep):
        """The sketch condition of clips `idx` with sketches `variant`, zeros where `keep`
        is false: keyframe latents normalised, blended to every frame, and a mask
        channel of ones; [B, T, SKETCH_CHANNELS, h, w]."""
        z = self.normalise(getattr(self, f"{split}_sketches")[idx, variant])  # [B, K, C, h, w]
        blended = z[:, self.a] * (1.0 - self.u) + z[:, self.b] * self.u
        cond = torch.cat([blended, torch.ones_like(blended[:, :, :1])], 2)
        assert cond.shape[2] == SKETCH_CHANNELS
        return cond * keep.reshape(-1, 1, 1, 1, 1).to(cond.dtype)

    def validation_noise(self, j):
        """The fixed noise of every dev clip at time VAL_TIMES[j] (clip i: seed 1000 + i,
        stream Candidate { step: j, index: 0 }): [N, T, C, h, w], made once."""
        if j not in self._val_noise:
            n = int(np.prod(self.clip))
            e = [noise.gaussian(1_000 + i, noise.candidate(j, 0), n).reshape(self.clip) for i in range(self.dev.shape[0])]
            self._val_noise[j] = torch.from_numpy(np.stack(e)).to(self.train.device)
        return self._val_noise[j]
