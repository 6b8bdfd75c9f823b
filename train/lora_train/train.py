"""Flow-matching training of the denoiser on the `train-base` latent cache, in PyTorch.

    python -m lora_train.train --data CACHE --out DIR [--config base] [--steps N] ...
    torchrun --nproc_per_node N -m lora_train.train ...   (DistributedDataParallel)

The loss, schedule and held-out validation are `train-base`'s: t ~ U(0,1), e ~ N(0,1),
x_t = (1-t) z0 + t e, || v(x_t, t) - (e - z0) ||^2, a sketch for each clip but 10% of
the time (condition dropout). With `--bridge T0`, a clip with its sketch follows the
decoder's path at times below T0 instead: the straight line from the clip through
x_T0 = (1 - T0) z_s + T0 e, where a decode starts from the sketch's latents z_s, as the
encoder's fit does (`encoder/src/fit.rs`). Every step's batch, times and noise are a function of
(seed, step) over the global batch, so a resumed run continues exactly and N processes
compute what one process computes. The exported model is the EMA of the weights.
"""

import argparse
import csv
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

from . import package
from .data import VAL_TIMES, Latents
from .model import CONFIGS, MAX_SHIFT, Config, Denoiser

SKETCH_DROPOUT = 0.1
WARMUP = 50


def clean_gradients(params, max_norm):
    """Clips the gradients of `params` to a global norm of at most `max_norm` (inf: no
    clipping) and zeroes them all when that norm is not finite, so a step that overflows
    moves the weights by Adam's momentum alone. No device sync. Returns the norm before."""
    params = [p for p in params if p.grad is not None]
    if not params:
        return torch.zeros(())
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    grads = [p.grad for p in params]
    for g in grads:
        g.nan_to_num_(0.0, 0.0, 0.0)
    torch._foreach_mul_(grads, torch.isfinite(norm).to(grads[0].dtype))
    return norm


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m lora_train.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="latent cache written by `lora-video train-base`")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, log.csv, denoiser.safetensors")
    p.add_argument("--config", default="base", help=f"one of {', '.join(CONFIGS)}, or a JSON DenoiserConfig")
    p.add_argument("--init", help="warm start from a denoiser file (its latent normalisation too)")
    p.add_argument("--steps", type=int, default=2000, help="total optimiser steps (a resumed run continues)")
    p.add_argument("--batch", type=int, default=4, help="global batch: clips per step over all processes")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant", help="after 50 warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--clip-grad", type=float, default=1.0, help="clip the gradients' global norm to this (0: no clipping); a non-finite step is skipped either way")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-flip", action="store_true", help="play half the clips backwards (an exact augmentation: TAEF2 codes frames alone)")
    p.add_argument("--position-shift", type=int, default=0, help=f"start each clip's rows and columns at a random position in 0..=N (at most {MAX_SHIFT}): a model trained at 128 x 128 then sees the positions of 256 x 256")
    p.add_argument("--bridge", type=float, help="the decoder's start time t0 (in (0, 1)): a clip with its sketch learns the straight path from its sketch's latents noised to t0 at times below t0, and half of each batch draws t below t0")
    p.add_argument("--minutes", type=float, help="stop, validate and save after this much training time")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, help="bf16 autocast (default: on CUDA)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile (default: on CUDA)")
    p.add_argument("--device", help="cuda or cpu (default: cuda when there is one)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def config_of(name):
    return CONFIGS[name] if name in CONFIGS else Config(**json.loads(name))


def bridge_noise(z0, e, cond, t, keep, t0):
    """The noise end of each clip's path, and the loss weights: e, weight 1, but where
    the clip keeps its sketch and t < t0, the decoder's path e' = e + (1 - t0)/t0 (z_s -
    z0), which passes through x_t0 = (1 - t0) z_s + t0 e (z_s: the condition's latents),
    weighted t0^2 (the squared error of the clip estimate x - t v at t0)."""
    on = (keep.to(t.device) & (t < t0)).reshape(-1, 1, 1, 1, 1)
    shifted = e + (cond[:, :, :-1] - z0) * ((1 - t0) / t0)
    return torch.where(on, shifted, e), torch.where(on, t0 * t0, 1.0)


def flow_loss(net, data, split, idx, t, e, variant, keep, bf16, flip=None, shift=None, bridge=None):
    """|| v(x_t, t) - (e - z0) ||^2 on clips `idx` of `split`, each with its sketch
    `variant` where `keep` (None: a model without a sketch input), played backwards
    where `flip`, its positions shifted by `shift` [B, 2] (None: not); with `bridge` t0,
    the decoder's path below t0 (`bridge_noise`)."""
    device = data.train.device
    idx, t, e = idx.to(device), t.to(device), e.to(device)
    z0 = data.clips(split, idx)
    cond = None if keep is None else data.condition(split, idx, variant.to(device), keep.to(device))
    if flip is not None:
        f = flip.to(device).reshape(-1, 1, 1, 1, 1)
        z0 = torch.where(f, z0.flip(1), z0)
        cond = None if cond is None else torch.where(f, cond.flip(1), cond)
    weight = 1.0
    if bridge is not None and cond is not None:
        e, weight = bridge_noise(z0, e, cond, t, keep, bridge)
    t5 = t.reshape(-1, 1, 1, 1, 1)
    xt = (1 - t5) * z0 + t5 * e
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        v = net(xt, t, cond, None if shift is None else shift.to(device))
    return ((v.float() - (e - z0)).pow(2) * weight).mean()


@torch.no_grad()
def validate(model, data, sketch, bf16=False, shifts=(0,), bridge=None):
    """`train-base`'s validation: every dev clip at VAL_TIMES with its fixed noise, with
    the clip's first cached sketch (`sketch`) or none; the mean of the per-clip losses.
    With `shifts`, every clip's row and column positions moved by each, and the mean.
    With `bridge` t0 (and the sketch), the loss on the decoder's path at t0 times
    VAL_TIMES: the weighted loss `flow_loss` trains."""
    n = data.dev.shape[0]
    idx, variant, keep = torch.arange(n), torch.zeros(n, dtype=torch.long), torch.full((n,), sketch)
    keep = keep if model.config.cond_channels else None
    scale = bridge if bridge is not None and sketch else 1.0
    total = 0.0
    for shift in shifts:
        moved = torch.full((n, 2), shift) if shift else None
        for j, t in enumerate(VAL_TIMES):
            total += float(flow_loss(model, data, "dev", idx, torch.full((n,), t * scale), data.validation_noise(j), variant, keep, bf16, shift=moved, bridge=bridge))
    return total / (len(VAL_TIMES) * len(shifts))


class Run:
    """One process of a training run (rank 0 validates, logs and saves)."""

    def __init__(self, a):
        self.a = a
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.rank = int(os.environ.get("RANK", 0))
        cuda = torch.cuda.is_available() and a.device != "cpu"
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            dist.init_process_group("nccl" if cuda else "gloo")
        if a.bridge is not None and not 0 < a.bridge < 1:
            sys.exit(f"--bridge {a.bridge} must be in (0, 1)")
        if not 0 <= a.position_shift <= MAX_SHIFT:
            sys.exit(f"--position-shift {a.position_shift} must be in 0..={MAX_SHIFT}")
        if a.batch % self.world:
            sys.exit(f"--batch {a.batch} must divide by the {self.world} processes")
        self.bf16 = cuda if a.bf16 is None else a.bf16
        self.compile = cuda if a.compile is None else a.compile
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.config = config_of(a.config)
        torch.manual_seed(a.seed)  # the initial weights
        self.model = Denoiser(self.config).to(self.device)
        init_norm = package.warm_start(self.model, a.init) if a.init else None
        os.makedirs(a.out, exist_ok=True)
        self.ckpt = os.path.join(a.out, "checkpoint.pt")
        saved = torch.load(self.ckpt, map_location=self.device, weights_only=False) if os.path.exists(self.ckpt) else None
        norm = saved["norm"] if saved else init_norm
        self.data = Latents(a.data, self.device, norm)
        self.ema = Denoiser(self.config).to(self.device)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.optim = torch.optim.AdamW(self.model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-5, weight_decay=a.weight_decay)
        self.step, self.seconds, self.history = 0, 0.0, []
        if saved:
            if saved["config"] != self.config.to_json():
                sys.exit(f"{self.ckpt} was trained with another --config")
            self.model.load_state_dict(saved["model"])
            self.ema.load_state_dict(saved["ema"])
            self.optim.load_state_dict(saved["optim"])
            self.step, self.seconds, self.history = saved["step"], saved["seconds"], saved["history"]
            self.log(f"resuming at step {self.step}")
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index] if cuda else None)
        self.forward = torch.compile(self.net) if self.compile else self.net

    def log(self, msg):
        if self.rank == 0 and not self.a.quiet:
            print(msg, flush=True)

    def lr(self, step):
        warm = min((step + 1) / WARMUP, 1.0)
        if self.a.schedule == "cosine":
            return self.a.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step / self.a.steps, 1.0))))
        return self.a.lr * warm

    def draw(self, step):
        """The global batch of `step`: clip indices, times, sketch choices and noise."""
        g = torch.Generator().manual_seed(self.a.seed * 1_000_003 + step)
        b, n = self.a.batch, self.data.train.shape[0]
        idx = torch.randint(n, (b,), generator=g)
        t = torch.rand(b, generator=g)
        keep = torch.rand(b, generator=g) >= SKETCH_DROPOUT
        variant = torch.randint(self.data.variants, (b,), generator=g)
        gd = torch.Generator(self.device).manual_seed(self.a.seed * 1_000_003 + step)
        e = torch.randn((b, *self.data.clip), generator=gd, device=self.device)  # made where it is used
        flip = torch.rand(b, generator=g) < 0.5 if self.a.time_flip else None
        shift = torch.randint(self.a.position_shift + 1, (b, 2), generator=g) if self.a.position_shift else None
        if self.a.bridge is not None:  # drawn last: the other draws stay those of a run without
            t = torch.where(torch.rand(b, generator=g) < 0.5, t * self.a.bridge, t)
        return idx, t, keep if self.config.cond_channels else None, variant, e, flip, shift

    def first_step(self):
        """A train step; a compiled model that fails falls back to eager (a lent GPU's
        minutes are too few to lose)."""
        if not self.compile:
            return self.train_step()
        try:
            return self.train_step()
        except Exception as e:  # noqa: BLE001: any compiler failure, raised before the update
            self.log(f"torch.compile failed ({type(e).__name__}: {e}); training eagerly")
            self.compile, self.forward = False, self.net
            return self.train_step()

    def train_step(self):
        idx, t, keep, variant, e, flip, shift = self.draw(self.step)
        per = self.a.batch // self.world
        mine = slice(self.rank * per, (self.rank + 1) * per)
        part = lambda x: None if x is None else x[mine]
        loss = flow_loss(self.forward, self.data, "train", idx[mine], t[mine], e[mine], variant[mine], part(keep), self.bf16, part(flip), part(shift), self.a.bridge)
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        clean_gradients(list(self.model.parameters()), self.a.clip_grad or math.inf)
        for group in self.optim.param_groups:
            group["lr"] = self.lr(self.step)
        self.optim.step()
        decay = min(self.a.ema, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1 - decay)
        self.step += 1
        value = loss.detach()
        if self.world > 1:
            dist.all_reduce(value)
            value /= self.world
        return value

    def validate(self, model, sketch, bridge=None):
        """The held-out loss; with position shifts up to N, the mean of the losses at
        shift 0 and shift N (the corners of the positions trained)."""
        n = self.a.position_shift
        return validate(model, self.data, sketch, self.bf16, (0, n) if n else (0,), bridge)

    def checkpoint(self, train_loss):
        """Validates the EMA weights, logs, saves the checkpoint and exports (rank 0).
        The best export is the least `val`, or with --bridge the least `val_bridge`."""
        if self.rank == 0:
            sketched = self.config.cond_channels > 0
            val = self.validate(self.ema, True)
            plain = self.validate(self.ema, False) if sketched else val
            bridge = self.validate(self.ema, True, self.a.bridge) if self.a.bridge is not None and sketched else None
            self.history.append({"step": self.step, "train": train_loss, "val": val, "val_plain": plain, "val_bridge": bridge, "seconds": self.seconds})
            self.log(f"step {self.step}: loss {train_loss:.4f} val {val:.4f} (no sketch {plain:.4f}{'' if bridge is None else f', bridge {bridge:.4f}'}) {self.seconds:.0f} s")
            state = {
                "model": self.model.state_dict(), "ema": self.ema.state_dict(), "optim": self.optim.state_dict(),
                "step": self.step, "seconds": self.seconds, "history": self.history,
                "config": self.config.to_json(), "norm": self.data.norm, "world": self.world,
            }
            tmp = self.ckpt + ".tmp"
            torch.save(state, tmp)
            os.replace(tmp, self.ckpt)
            package.write(os.path.join(self.a.out, "denoiser.safetensors"), self.ema, self.data.norm)
            score = "val" if bridge is None else "val_bridge"
            if self.history[-1][score] <= min(h[score] for h in self.history):
                package.write(os.path.join(self.a.out, "best.safetensors"), self.ema, self.data.norm)
            with open(os.path.join(self.a.out, "log.csv.tmp"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["step", "train_loss_ema", "val", "seconds", "val_plain", "val_bridge"])
                for h in self.history:
                    b = h.get("val_bridge")
                    w.writerow([h["step"], f"{h['train']:.6f}", f"{h['val']:.6f}", f"{h['seconds']:.1f}", f"{h['val_plain']:.6f}", "" if b is None else f"{b:.6f}"])
            os.replace(os.path.join(self.a.out, "log.csv.tmp"), os.path.join(self.a.out, "log.csv"))
        if self.world > 1:
            dist.barrier()

    def run(self):
        a = self.a
        self.log(f"{sum(p.numel() for p in self.model.parameters()):,} parameters; {self.world} process(es) on {self.device}; bf16 {self.bf16}, compile {self.compile}")
        if self.step == 0:
            self.checkpoint(float("nan"))  # the starting point's held-out loss
        started, at_start, ema = time.time(), self.step, None
        busy, mark = 0.0, time.time()  # seconds of training in this run, validation not counted
        while self.step < a.steps:
            value = self.first_step() if self.step == at_start else self.train_step()
            ema = value if ema is None else 0.98 * ema + 0.02 * value  # a tensor: no device sync
            out_of_time = a.minutes is not None and time.time() - started > 60 * a.minutes
            if self.step % a.val_every == 0 or self.step == a.steps or out_of_time:
                loss = float(ema)  # waits for the device
                busy += time.time() - mark
                self.seconds += time.time() - mark
                self.checkpoint(loss)
                mark = time.time()
            if out_of_time:
                break
        rate = (self.step - at_start) * a.batch / max(busy, 1e-9)
        frames, _, h, w = self.data.clip
        tflops = rate * 3 * self.config.flops(frames, h, w) / 1e12  # forward + backward ~ 3 forwards
        self.log(f"trained to step {self.step}: {rate:.2f} clips/s, {tflops:.4f} TFLOP/s over {busy:.1f} s of training (validation not counted)")
        if self.world > 1:
            dist.destroy_process_group()


def main(argv=None):
    Run(parse(argv)).run()


if __name__ == "__main__":
    main()
