"""The sketch restorer: a small pixel-space CNN that maps a decoded sketch frame (plus
its neighbours and what the decoder knows of the sketch) to the frame.

x [B, 3, H, W] in [0, 1] -> pixel-unshuffle by 2 (with the neighbours' and the
condition's channels) -> conv3x3 + ReLU, `depth` times at `width` channels -> conv3x3
-> pixel-shuffle -> + x. Each hidden layer l may be modulated per clip:
h <- h * (1 + s_l) + b_l (channel-wise scale and shift, zero for the generic model).

Pairs come from `cargo run --release -p lora-video --example sketch_pairs`.
"""

import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# What the decoder knows of a clip's sketch, as the condition's channels (constant maps).
COND = ("q_luma", "q_chroma", "cell", "keyframes", "motion", "phase")


@dataclass(frozen=True)
class Config:
    width: int = 32
    depth: int = 8
    shuffle: int = 2
    neighbours: int = 1  # frames each side
    cond: int = len(COND)

    def inputs(self):
        return (3 * (1 + 2 * self.neighbours) * self.shuffle**2) + self.cond

    def macs_per_pixel(self):
        w, r = self.width, self.shuffle
        convs = self.inputs() * w + (self.depth - 1) * w * w + w * 3 * r * r
        return 9 * convs / (r * r)

    def params(self):
        w, r = self.width, self.shuffle
        return 9 * (self.inputs() * w + (self.depth - 1) * w * w + w * 3 * r * r) + self.depth * w + 3 * r * r


class Restorer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        w, r = cfg.width, cfg.shuffle
        self.convs = nn.ModuleList([nn.Conv2d(cfg.inputs(), w, 3, padding=1)] + [nn.Conv2d(w, w, 3, padding=1) for _ in range(cfg.depth - 1)])
        self.out = nn.Conv2d(w, 3 * r * r, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, neighbours, cond, film=None, delta=None):
        """x [B,3,H,W]; neighbours [B, 2n, 3, H, W]; cond [B, COND]; film: optional
        [B, depth, 2, width] (scale, shift per layer); delta: optional list of weight
        updates, one per conv and the output conv (a clip's LoRA)."""
        r = self.cfg.shuffle
        b, _, hh, ww = x.shape
        frames = torch.cat([x.unsqueeze(1), neighbours], 1) if self.cfg.neighbours else x.unsqueeze(1)
        h = F.pixel_unshuffle(frames.flatten(1, 2) - 0.5, r)
        c = cond[:, :, None, None].expand(b, cond.shape[1], hh // r, ww // r)
        h = torch.cat([h, c], 1)
        for i, conv in enumerate(self.convs):
            h = conv(h) if delta is None else F.conv2d(h, conv.weight + delta[i], conv.bias, padding=1)
            if film is not None:
                h = h * (1 + film[:, i, 0, :, None, None]) + film[:, i, 1, :, None, None]
            h = F.relu(h)
        out = self.out(h) if delta is None else F.conv2d(h, self.out.weight + delta[-1], self.out.bias, padding=1)
        return x + F.pixel_shuffle(out, r)

    def lora_shapes(self):
        """(out, in * 9) of every conv a clip's LoRA adapts, in order (the output conv last)."""
        return [(c.weight.shape[0], c.weight[0].numel()) for c in [*self.convs, self.out]]


# ---------------------------------------------------------------- data


class Pairs:
    """Every pair under `folders` (comma-separated; sketch_pairs' .bin files and
    index.jsonl), in memory as u8; `names`: only those files."""

    def __init__(self, folders, names=None):
        self.items = []
        for folder in folders.split(","):
            self.read(folder, names)

    def read(self, folder, names):
        with open(os.path.join(folder, "index.jsonl")) as f:
            meta = [json.loads(line) for line in f]
        for m in meta:
            if names is not None and m["file"] not in names:
                continue
            t, w = m["frames"], m.get("width", m.get("size"))
            h = m.get("height", w)
            raw = np.fromfile(os.path.join(folder, m["file"]), dtype=np.uint8)
            if raw.size != 2 * t * h * w * 3:
                continue
            clip = raw.reshape(2, t, h, w, 3)
            self.items.append((m, clip[0], clip[1]))

    def __len__(self):
        return len(self.items)


def keyframe_times(frames, keyframes):
    """`Geometry::keyframe_times`: keyframes spread over the clip, first and last included;
    one keyframe shows the middle frame."""
    if keyframes <= 1:
        return [(frames - 1) // 2]
    n = keyframes
    return [(2 * k * (frames - 1) + (n - 1)) // (2 * (n - 1)) for k in range(n)]


def cond_of(m, frame):
    """The condition of frame `frame` of pair `m`: its sketch's steps, cell, keyframes and
    motion, and the frame's distance to the nearest keyframe as a fraction of the gap."""
    times = keyframe_times(m["frames"], m["keyframes"])
    phase = 0.0
    for a, b in zip(times, times[1:]):
        if a <= frame <= b and b > a:
            phase = min(frame - a, b - frame) / (b - a)
    return [m["q_luma"] / 160.0, m["q_chroma"] / 160.0, m["cell_log2"] / 4.0, math.log2(max(1, m["keyframes"])) / 4.0, float(m["motion"]), 2 * phase]


def frame_batch(pairs, picks, n, crop=None, rng=None):
    """Tensors for (pair, frame) picks: x, neighbours, cond, target (float in [0, 1]).
    With `crop`, a random crop of that side at even offsets."""
    xs, ns, cs, ys = [], [], [], []
    for p, f in picks:
        m, src, sk = pairs.items[p]
        t, h, w = src.shape[:3]
        idx = [min(max(f + d, 0), t - 1) for d in range(-n, n + 1) if d != 0]
        if crop:
            y0 = 2 * rng.integers(0, (h - crop) // 2 + 1)
            x0 = 2 * rng.integers(0, (w - crop) // 2 + 1)
            sl = (slice(y0, y0 + crop), slice(x0, x0 + crop))
        else:
            sl = (slice(None), slice(None))
        xs.append(sk[f][sl])
        ns.append(np.stack([sk[i][sl] for i in idx]) if idx else np.zeros((0,) + sk[f][sl].shape, np.uint8))
        ys.append(src[f][sl])
        cs.append(cond_of(m, f))
    to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float().div_(255)
    x = to(np.stack(xs)).permute(0, 3, 1, 2)
    nb = to(np.stack(ns)).permute(0, 1, 4, 2, 3)
    y = to(np.stack(ys)).permute(0, 3, 1, 2)
    return x, nb, torch.tensor(cs, dtype=torch.float32), y


def psnr(mse):
    return 10 * math.log10(1.0 / max(mse, 1e-12))
