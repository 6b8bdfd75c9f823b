"""Train and measure the sketch restorer (`restorer.py`) on the CPU or a GPU.

  python3 -m lora_train.restore_train overfit PAIR.bin --out DIR    the ceiling: one clip alone
  python3 -m lora_train.restore_train train --pairs DIR --dev DIR --out DIR
  python3 -m lora_train.restore_train eval MODEL.pt --dev DIR [--png DIR]
  python3 -m lora_train.restore_train export MODEL.pt OUT.safetensors   for burn (f32, the config as metadata)
  python3 -m lora_train.restore_train adapt PAIR.bin --model MODEL [--adapter lora|film] [--k 128]   a clip's vector, frozen model

Every mode prints the PSNR (RGB, the whole clip) of the sketch alone and of the
restored frames; `--png` writes the restored frames (and the sources) as PNGs for
`lora-video compare`.
"""

import argparse
import dataclasses
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import st
from .hashing import index_map
from .restorer import Config, Pairs, Restorer, frame_batch, psnr


def load(path):
    """A restorer checkpoint that `train` or `overfit` wrote (our own files), or an
    exported `.safetensors` (the config in its metadata)."""
    if path.endswith(".safetensors"):
        tensors, meta = st.read(path)
        ck = {"config": json.loads(meta["restorer"]), "state": {n: torch.from_numpy(v.copy()) for n, v in tensors.items()}}
    else:
        ck = torch.load(path, weights_only=False)
    model = Restorer(Config(**ck["config"]))
    model.load_state_dict(ck["state"])
    return ck, model


def config_of(a):
    return Config(width=a.width, depth=a.depth, shuffle=a.shuffle, neighbours=a.neighbours)


class Hashed(torch.nn.Module):
    """A clip's FiLM (scale and shift per layer and channel) read from one vector theta of
    length k through `hashing::IndexMap`; k = 0: every FiLM entry is its own parameter."""

    def __init__(self, cfg, k, seed=0):
        super().__init__()
        d = cfg.depth * 2 * cfg.width
        self.shape = (cfg.depth, 2, cfg.width)
        k = k if k > 0 else d
        self.theta = torch.nn.Parameter(torch.zeros(k))
        index, scale = (np.arange(d), np.ones(d, np.float32)) if k == d else index_map(d, k, seed)
        self.index, self.scale = torch.from_numpy(index), torch.from_numpy(scale)

    def forward(self):
        return (self.theta[self.index] * self.scale).reshape(1, *self.shape)


class HashedLora(torch.nn.Module):
    """A clip's LoRA on every conv of the frozen model, its entries read from one vector
    theta of length k through `hashing::IndexMap` (`lora_train.hashing`), as the paper's
    method: the slots of `lora_slots`, and conv i's update (A B)^T as [out, in, 3, 3].
    theta starts small and random: at zero a product A B has no gradient."""

    def __init__(self, model, k, rank=1, seed=0, init=1e-2):
        super().__init__()
        self.rank, self.shapes = rank, model.lora_shapes()
        self.sizes = [rank * (o + i) for o, i in self.shapes]
        index, scale = index_map(sum(self.sizes), k, seed)
        self.index, self.scale = torch.from_numpy(index), torch.from_numpy(scale)
        g = torch.Generator().manual_seed(seed + 1)
        self.theta = torch.nn.Parameter(init * torch.randn(k, generator=g))

    def forward(self):
        return lora_updates(self.theta[self.index] * self.scale, self.shapes, self.rank)


def lora_updates(entries, shapes, rank):
    """Every conv's weight update from the LoRA entries, slot by slot: A [in*9, rank]
    then B [rank, out] for each conv of `shapes` ((out, in*9) each, `lora_shapes`)."""
    out, at = [], 0
    for o, i in shapes:
        a = entries[at : at + i * rank].reshape(i, rank)
        b = entries[at + i * rank : at + rank * (i + o)].reshape(rank, o)
        at += rank * (i + o)
        out.append((a @ b).T.reshape(o, -1, 3, 3))
    return out


class Adapter(torch.nn.Module):
    """What a clip's vector steers: the frozen model's `film` or its `lora`."""

    def __init__(self, model, kind, k, rank=1, seed=0):
        super().__init__()
        self.kind = kind
        self.inner = Hashed(model.cfg, k, seed) if kind == "film" else HashedLora(model, k, rank, seed)
        self.theta = self.inner.theta

    def kwargs(self, b):
        if self.kind == "film":
            return {"film": self.inner().expand(b, -1, -1, -1)}
        return {"delta": self.inner()}


def adapt(model, pairs, a):
    """Fits a clip's vector on the frozen model: the same loss and crops as `fit`."""
    for p in model.parameters():
        p.requires_grad_(False)
    adapter = Adapter(model, a.adapter, a.k, a.rank)
    opt = torch.optim.Adam(adapter.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    frames = [(p, f) for p, (m, src, _) in enumerate(pairs.items) for f in range(src.shape[0])]
    t0 = time.time()
    for step in range(a.steps):
        if time.time() - t0 > 60 * a.minutes:
            break
        picks = [frames[i] for i in rng.integers(0, len(frames), a.batch)]
        x, nb, c, y = frame_batch(pairs, picks, model.cfg.neighbours, a.crop, rng)
        r = model(x, nb, c, **adapter.kwargs(len(picks)))
        loss = F.mse_loss(r, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return adapter


def laplace_bytes(q):
    """Ideal bytes of integer symbols q under a discretised Laplace prior of maximum
    likelihood scale (what `entropy.rs` codes, less its few bytes of overhead)."""
    q = np.asarray(q, dtype=np.float64)
    b = max(np.abs(q).mean(), 1e-3)
    cdf = lambda x: np.where(x < 0, 0.5 * np.exp(x / b), 1 - 0.5 * np.exp(-x / b))
    p = np.maximum(cdf(q + 0.5) - cdf(q - 0.5), 1e-12)
    return float(-np.log2(p).sum() / 8)


@torch.no_grad()
def quantised(adapter, step):
    """The adapter with theta rounded to multiples of `step` (a copy), and its bytes."""
    import copy

    out = copy.deepcopy(adapter)
    q = torch.round(out.theta / step)
    out.theta.copy_(q * step)
    return out, laplace_bytes(q.numpy())


@torch.no_grad()
def restore_clip(model, pairs, p, film=None):
    """Pair p's restored frames [T, 3, H, W] in [0, 1], a frame at a time."""
    t = pairs.items[p][1].shape[0]
    out = [model(*frame_batch(pairs, [(p, f)], model.cfg.neighbours)[:3], **({} if film is None else film.kwargs(1))) for f in range(t)]
    return torch.cat(out).clamp(0, 1)


def pooled_gain(rows):
    """dB of the restored frames over the sketch, from the squared errors pooled over
    `evaluate`'s rows: a flat clip the sketch codes exactly must not swamp the mean."""
    return psnr(np.mean([r[2] for r in rows])) - psnr(np.mean([r[1] for r in rows]))


@torch.no_grad()
def evaluate(model, pairs, png=None, film=None):
    """Mean-squared errors of the sketch and of the restored frames, per pair."""
    model.eval()
    rows = []
    for p, (m, src, sk) in enumerate(pairs.items):
        t = src.shape[0]
        r = restore_clip(model, pairs, p, film)
        y = torch.from_numpy(src).float().div(255).permute(0, 3, 1, 2)
        x = torch.from_numpy(sk).float().div(255).permute(0, 3, 1, 2)
        q = (r * 255).round() / 255  # as 8-bit frames
        rows.append((m["file"], F.mse_loss(x, y).item(), F.mse_loss(q, y).item()))
        if png:
            from PIL import Image

            stem = os.path.join(png, m["file"].removesuffix(".bin"))
            os.makedirs(stem, exist_ok=True)
            for f in range(t):
                Image.fromarray((q[f].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(f"{stem}/restored_{f:02d}.png")
                Image.fromarray(src[f]).save(f"{stem}/src_{f:02d}.png")
                Image.fromarray(sk[f]).save(f"{stem}/sketch_{f:02d}.png")
    model.train()
    return rows


def report(rows):
    for name, a, b in rows:
        print(f"  {name}: sketch {psnr(a):.3f} dB -> restored {psnr(b):.3f} dB ({psnr(b) - psnr(a):+.3f})")
    gain = pooled_gain(rows)
    print(f"  all: {psnr(np.mean([r[1] for r in rows])):.3f} dB -> {gain:+.3f}")
    return gain


def fit(model, pairs, a, dev=None, log=None):
    """Adam on random crops of random frames, `a.minutes` or `a.steps`; the L1 + MSE
    loss in pixels. Returns the model (best on `dev` if given)."""
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)
    t0, step, best = time.time(), 0, None
    frames = [(p, f) for p, (m, src, _) in enumerate(pairs.items) for f in range(src.shape[0])]
    while step < a.steps and time.time() - t0 < 60 * a.minutes:
        lr = a.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, max(step / a.steps, (time.time() - t0) / (60 * a.minutes)))))
        for g in opt.param_groups:
            g["lr"] = lr
        picks = [frames[i] for i in rng.integers(0, len(frames), a.batch)]
        x, nb, c, y = frame_batch(pairs, picks, model.cfg.neighbours, a.crop, rng)
        r = model(x, nb, c)
        loss = F.mse_loss(r, y) + a.l1 * (r - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % a.every == 0:
            msg = f"step {step} {time.time() - t0:.0f}s lr {lr:.2e} loss {loss.item():.5f}"
            if dev is not None:
                gain = pooled_gain(evaluate(model, dev))
                msg += f" dev gain {gain:+.3f} dB"
                if best is None or gain > best[0]:
                    best = (gain, {k: v.clone() for k, v in model.state_dict().items()})
                    if getattr(a, "out", None):
                        torch.save({"config": dataclasses.asdict(model.cfg), "state": best[1], "gain_db": float(gain), "step": step}, os.path.join(a.out, "best.pt"))
            print(msg, flush=True)
            if log:
                log.write(msg + "\n")
                log.flush()
    if best is not None:
        model.load_state_dict(best[1])
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["overfit", "train", "eval", "adapt", "export"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("dest", nargs="?")
    ap.add_argument("--pairs")
    ap.add_argument("--dev")
    ap.add_argument("--out", default="restorer-run")
    ap.add_argument("--png")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--shuffle", type=int, default=2)
    ap.add_argument("--neighbours", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--l1", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--steps", type=int, default=10**9)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k", type=int, default=0)
    ap.add_argument("--model")
    ap.add_argument("--adapter", choices=["film", "lora"], default="lora")
    ap.add_argument("--rank", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.mode in ("eval", "adapt", "export"):
        ck, model = load(a.model or a.path)
        if a.mode == "export":
            tensors = {n: v.detach().float().numpy() for n, v in model.state_dict().items()}
            st.write(a.dest, tensors, {"restorer": json.dumps(ck["config"])})
            print(f"wrote {a.dest}")
            return
        if a.mode == "eval":
            report(evaluate(model, Pairs(a.dev), a.png))
            return
        folder, name = os.path.split(a.path)
        pairs = Pairs(folder, {name})
        print("frozen model:")
        report(evaluate(model, pairs))
        film = adapt(model, pairs, a)
        print(f"with the clip's {a.adapter} (k = {a.k or 'all'}, {film.theta.numel()} values), unquantised:")
        report(evaluate(model, pairs, a.png, film))
        spread = film.theta.detach().abs().mean().item()
        for f in (0.25, 0.5, 1.0, 2.0):
            qa, nbytes = quantised(film, f * spread)
            print(f"  step {f} x mean |theta| ({f * spread:.4g}): {nbytes:.0f} bytes, {pooled_gain(evaluate(model, pairs, film=qa)):+.3f} dB over the sketch")
        return
    cfg = config_of(a)
    model = Restorer(cfg)
    if a.init:
        model.load_state_dict(load(a.init)[1].state_dict())
    os.makedirs(a.out, exist_ok=True)  # train and overfit only: the other modes write nothing there
    print(f"restorer {cfg}: {cfg.params()} parameters, {cfg.macs_per_pixel():.0f} MAC/pixel", flush=True)
    with open(os.path.join(a.out, "log.txt"), "a") as log:
        if a.mode == "overfit":
            folder, name = os.path.split(a.path)
            pairs = Pairs(folder, {name})
            fit(model, pairs, a, dev=pairs, log=log)
            rows = evaluate(model, pairs, a.png)
        else:
            pairs, dev = Pairs(a.pairs), Pairs(a.dev)
            print(f"{len(pairs)} training pairs, {len(dev)} dev pairs", flush=True)
            fit(model, pairs, a, dev=dev, log=log)
            rows = evaluate(model, dev, a.png)
        gain = report(rows)
    torch.save({"config": dataclasses.asdict(cfg), "state": model.state_dict(), "gain_db": float(gain)}, os.path.join(a.out, "restorer.pt"))


if __name__ == "__main__":
    main()
