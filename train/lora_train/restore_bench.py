"""Scores the sketch alone, a restorer's output and a restorer adapted to each clip
(its vector quantised; the bytes column counts the sketch's and the vector's), against
the source, on pairs from `--example sketch_pairs --input` (the dev clips):
PSNR, MS-SSIM, SSIMULACRA2, VMAF and VMAF-NEG from `lora-video compare`, as a markdown
table. `scripts/bench-restorer.sh` runs it.

    python3 -m lora_train.restore_bench --pairs DIR --names a.bin,b.bin [--model M.pt]
        [--adapt-k 0,64] [--overfit-minutes 12] --bin target/release/lora-video --ffmpeg FF
"""

import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
import torch
from PIL import Image

from .restore_train import adapt, fit, load, quantised, restore_clip
from .restorer import Config, Pairs, Restorer

COLUMNS = ("psnr", "msssim", "ssimulacra2", "vmaf", "vmaf_neg")


def write_pngs(folder, frames):
    os.makedirs(folder, exist_ok=True)
    for f, rgb in enumerate(frames):
        Image.fromarray(rgb).save(os.path.join(folder, f"{f:02d}.png"))
    return os.path.join(folder, "%02d.png")


def compare(a, ref, test):
    cmd = [a.bin, "compare", ref, test, "--json"] + (["--vmaf", a.ffmpeg] if a.ffmpeg else [])
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def restored_frames(model, pairs, film=None):
    """The first pair's restored frames as 8-bit RGB."""
    r = restore_clip(model, pairs, 0, film)
    return list((r.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--names", required=True)
    ap.add_argument("--model")
    ap.add_argument("--adapt-k", default="")
    ap.add_argument("--adapt-steps", type=int, default=300)
    ap.add_argument("--overfit-minutes", type=float, default=0)
    ap.add_argument("--bin", default="target/release/lora-video")
    ap.add_argument("--ffmpeg")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--adapter", choices=["film", "lora"], default="lora")
    ap.add_argument("--rank", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = None
    if a.model:
        _, base = load(a.model)
    print("| clip | decode | bytes | PSNR | MS-SSIM | SSIMULACRA2 | VMAF | VMAF-NEG |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.names.split(","):
            pairs = Pairs(a.pairs, {name})
            m, src, sk = pairs.items[0]
            ref = write_pngs(os.path.join(tmp, name, "src"), src)
            rows = [("sketch alone", sk, 0)]
            if base is not None:
                rows.append(("+ restorer", restored_frames(base, pairs), 0))
                for k in [int(v) for v in a.adapt_k.split(",") if v]:
                    args = argparse.Namespace(k=k, lr=1e-2, steps=a.adapt_steps, minutes=60, batch=8, crop=96, seed=0, adapter=a.adapter, rank=a.rank)
                    film = adapt(base, pairs, args)
                    # Quantised at a step of theta's mean magnitude (the dev clips lose
                    # under 0.01 dB there), priced under a Laplace prior.
                    film, nbytes = quantised(film, film.theta.detach().abs().mean().item())
                    nbytes = int(np.ceil(nbytes))
                    rows.append((f"+ restorer + the clip's {a.adapter} (k = {k or 'all'}, {nbytes} B)", restored_frames(base, pairs, film), nbytes))
                    for p in base.parameters():
                        p.requires_grad_(True)
            if a.overfit_minutes:
                cfg = base.cfg if base is not None else Config()
                own = Restorer(cfg)
                args = argparse.Namespace(lr=1e-3, l1=0.0, batch=8, crop=96, steps=10**9, minutes=a.overfit_minutes, every=10**9, seed=0)
                fit(own, pairs, args)
                rows.append((f"a restorer overfitted to the clip ({a.overfit_minutes:g} min; the ceiling)", restored_frames(own, pairs), 0))
            for label, frames, extra in rows:
                s = compare(a, ref, write_pngs(os.path.join(tmp, name, label.replace(" ", "_").replace("/", "")), frames))
                cells = " | ".join(f"{s[c]:.4f}" if c == "msssim" else f"{s[c]:.2f}" for c in COLUMNS if s.get(c) is not None)
                print(f"| {name.removesuffix('.bin')} | {label} | {m['bytes'] + extra} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
