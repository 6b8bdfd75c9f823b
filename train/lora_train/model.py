"""The latent video denoiser in PyTorch, a mirror of `shared/src/model/denoiser.rs`.

Same configuration, the same tensor names, shapes and layouts (a linear layer's weight
is [in, out], y = x W + b, as in burn), the same positions and timestep features. The
parity test (`tests/test_parity.py`, `shared/tests/parity.rs`) pins the two together.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TIME_FEATURES = 256
LATENT_CHANNELS = 32
# The sketch condition: the sketch's TAEF2 latents and a mask channel of ones.
SKETCH_CHANNELS = LATENT_CHANNELS + 1
PROJECTIONS = ("q", "k", "v", "out")
# The largest row/column shift of the positions that training may draw (`forward`'s shift).
MAX_SHIFT = 16


@dataclass(frozen=True)
class Config:
    """`DenoiserConfig`: serialised into the package manifest with the same keys."""

    latent_channels: int = 32
    patch: int = 2
    dim: int = 96
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    lora_rank: int = 1
    cond_channels: int = 0

    def to_json(self):
        d = asdict(self)
        if d["cond_channels"] == 0:
            del d["cond_channels"]  # as serde's skip_serializing_if
        return d

    def flops(self, frames, h, w):
        """`DenoiserConfig::flops`: multiply-add FLOPs (x2) of one forward pass."""
        d, t = self.dim, frames
        n = (h // self.patch) * (w // self.patch)
        tokens = t * n
        io = 2 * tokens * d * (2 * self.latent_channels + self.cond_channels) * self.patch**2
        proj = 2 * 4 * d * d * tokens * 2
        mlp = 2 * 2 * d * d * self.mlp_ratio * tokens
        attn = 2 * 2 * tokens * d * (n + t)
        return io + self.depth * (proj + mlp + attn + 2 * d * 9 * d)


CONFIGS = {
    "base": Config(cond_channels=SKETCH_CHANNELS),
    "base-plain": Config(),
    "tiny": Config(dim=48, depth=2, heads=2, mlp_ratio=2),
    "tiny-sketch": Config(dim=48, depth=2, heads=2, mlp_ratio=2, cond_channels=SKETCH_CHANNELS),
    # About 3.2x the base denoiser's FLOPs: 175 GFLOP for a 16-frame 256 x 256 decode of
    # 8 steps, which with TAEF2 (816 GFLOP) stays inside the ~1 TFLOP decode budget.
    "large": Config(dim=144, depth=6, heads=6, cond_channels=SKETCH_CHANNELS),
}


class Linear(nn.Module):
    """y = x W + b with W [in, out]: burn's layout, so names and shapes match."""

    def __init__(self, i, o, zero=False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(i, o))
        self.bias = nn.Parameter(torch.empty(o))
        if zero:
            nn.init.zeros_(self.weight)
            nn.init.zeros_(self.bias)
        else:  # burn's default: U(-1/sqrt(in), 1/sqrt(in)) for both
            bound = 1 / math.sqrt(i)
            nn.init.uniform_(self.weight, -bound, bound)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.q, self.k, self.v, self.out = (Linear(d, d) for _ in PROJECTIONS)
        self.heads = heads

    def forward(self, x):
        b, n, d = x.shape
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)))
        return self.out(y.transpose(1, 2).reshape(b, n, d))


def norm(x):
    """Layer norm over the last axis without affine parameters (eps 1e-6)."""
    centred = x - x.mean(-1, keepdim=True)
    return centred / (centred.pow(2).mean(-1, keepdim=True) + 1e-6).sqrt()


def modulate(x, shift, scale):
    return x * scale + x + shift


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d = c.dim
        self.modulation = Linear(d, 9 * d, zero=True)
        self.spatial = Attention(d, c.heads)
        self.temporal = Attention(d, c.heads)
        self.mlp_in = Linear(d, d * c.mlp_ratio)
        self.mlp_out = Linear(d * c.mlp_ratio, d)

    def forward(self, x, c):
        b, t, n, d = x.shape
        m = self.modulation(F.silu(c)).reshape(b, 9, 1, 1, d).unbind(1)
        h = modulate(norm(x), m[0], m[1]).reshape(b * t, n, d)
        x = x + self.spatial(h).reshape(b, t, n, d) * m[2]
        h = modulate(norm(x), m[3], m[4]).transpose(1, 2).reshape(b * n, t, d)
        x = x + self.temporal(h).reshape(b, n, t, d).transpose(1, 2) * m[5]
        h = modulate(norm(x), m[6], m[7])
        return x + self.mlp_out(F.gelu(self.mlp_in(h))) * m[8]


def sinusoid(pos, n):
    """sin/cos pairs (interleaved) of `pos` over n dims, frequencies 1 / 10000^(2i/n)."""
    a = pos / 10_000.0 ** (2.0 * np.arange(n // 2) / n)
    return np.stack([np.sin(a), np.cos(a)], -1).reshape(-1)


def positions(frames, hp, wp, d):
    """Fixed (frame, row, column) embeddings, a third of the dims each: [T, N, D]."""
    f, y, x = np.meshgrid(np.arange(frames), np.arange(hp), np.arange(wp), indexing="ij")
    parts = [np.stack([sinusoid(float(p), d // 3) for p in axis.reshape(-1)]) for axis in (f, y, x)]
    return torch.from_numpy(np.concatenate(parts, -1).astype(np.float32).reshape(frames, hp * wp, d))


def time_features(t):
    """sin and cos (concatenated) of 1000 t over TIME_FEATURES dims: [B, TIME_FEATURES]."""
    half = TIME_FEATURES // 2
    freqs = torch.from_numpy((10_000.0 ** (-np.arange(half) / half)).astype(np.float32)).to(t.device, t.dtype)
    args = (t * 1000.0)[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], 1)


class Denoiser(nn.Module):
    """Velocity v = e - z0 for latents x [B, T, C, h, w] at times t [B] in [0, 1]."""

    def __init__(self, c: Config):
        super().__init__()
        assert c.dim % 6 == 0 and c.dim % c.heads == 0, "dim must divide by 6 and by heads"
        self.config = c
        d, p = c.dim, c.patch
        self.patch_in = Linear((c.latent_channels + c.cond_channels) * p * p, d)
        self.time_in = Linear(TIME_FEATURES, d)
        self.time_out = Linear(d, d)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.depth))
        self.final_modulation = Linear(d, 2 * d, zero=True)
        self.patch_out = Linear(d, c.latent_channels * p * p, zero=True)
        self._positions = {}

    def positions(self, frames, hp, wp, like):
        key = (frames, hp, wp, str(like.device), like.dtype)
        if key not in self._positions:
            self._positions[key] = positions(frames, hp, wp, self.config.dim).to(like.device, like.dtype)
        return self._positions[key]

    def shifted_positions(self, frames, hp, wp, shift, like):
        """The positions of clips whose rows and columns start at `shift` [B, 2] (ints in
        0..=MAX_SHIFT) instead of 0: [B, T, N, D]. Training only: it shows a model trained
        on small clips the positions of larger ones."""
        table = self.positions(frames, hp + MAX_SHIFT, wp + MAX_SHIFT, like)  # [T, rows * cols, D]
        ys, xs = torch.arange(hp, device=like.device), torch.arange(wp, device=like.device)
        rows = ys[None, :, None] + shift[:, 0, None, None]
        cols = xs[None, None, :] + shift[:, 1, None, None]
        idx = (rows * (wp + MAX_SHIFT) + cols).reshape(shift.shape[0], -1)  # [B, N]
        return table[:, idx].transpose(0, 1)

    def forward(self, x, t, cond=None, shift=None):
        """`cond` [B, T, cond_channels, h, w] or None (all zeros: no sketch); `shift` [B, 2]
        or None (training only, `shifted_positions`)."""
        b, frames, c, h, w = x.shape
        p, k = self.config.patch, self.config.cond_channels
        hp, wp = h // p, w // p
        if k:
            x = torch.cat([x, cond if cond is not None else x.new_zeros(b, frames, k, h, w)], 2)
        ci = c + k
        tokens = x.reshape(b * frames, ci, hp, p, wp, p).permute(0, 2, 4, 1, 3, 5).reshape(b, frames, hp * wp, ci * p * p)
        pos = self.positions(frames, hp, wp, x) if shift is None else self.shifted_positions(frames, hp, wp, shift, x)
        x = self.patch_in(tokens) + pos
        c_t = self.time_out(F.silu(self.time_in(time_features(t))))
        for block in self.blocks:
            x = block(x, c_t)
        shift, scale = self.final_modulation(F.silu(c_t)).reshape(b, 2, 1, 1, -1).unbind(1)
        v = self.patch_out(modulate(norm(x), shift, scale))
        return v.reshape(b * frames, hp, wp, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, frames, c, h, w)
