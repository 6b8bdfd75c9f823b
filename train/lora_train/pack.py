"""A compact copy of a latent cache for a lent GPU, whose carry limit is 64 MiB:

    python -m lora_train.pack CACHE OUT --norm-from denoiser.safetensors

The training clips and their sketches become int8 in units of 1/16 of each channel's
std around its mean (an error of about 0.02 std, far below the flow-matching noise);
the held-out clips stay f16, so validation is exactly `train-base`'s. `data.Latents`
reads both kinds.
"""

import argparse
import json

import numpy as np

from . import package, st
from .data import latent_norm

STEPS_PER_STD = 16
KEY = "lora_video_pack"


def per_channel(mean, std, ndim):
    """mean and std as arrays that broadcast over the channel axis (-3) of latents."""
    shape = [1] * ndim
    shape[-3] = len(mean)
    return np.reshape(mean, shape), np.reshape(std, shape)


def quantise(z, mean, std):
    m, s = per_channel(mean, std, z.ndim)
    return np.clip(np.round((z.astype(np.float32) - m) / s * STEPS_PER_STD), -127, 127).astype(np.int8)


def dequantise(q, mean, std):
    """Latents (f16) of an int8 pack tensor: z = q / 16 * std + mean."""
    m, s = (a.astype(np.float32) for a in per_channel(mean, std, q.ndim))
    return (q.astype(np.float32) / STEPS_PER_STD * s + m).astype(np.float16)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m lora_train.pack", description=__doc__.split("\n\n")[0])
    p.add_argument("cache")
    p.add_argument("out")
    p.add_argument("--norm-from", help="a denoiser file whose latent normalisation to use (default: the cache's own)")
    a = p.parse_args(argv)
    t, _ = st.read(a.cache)
    mean, std = package.read(a.norm_from)[2] if a.norm_from else latent_norm(t["train"])
    out = {n: quantise(t[n], mean, std) for n in ("train", "train_sketches")}
    out.update({n: t[n] for n in ("dev", "dev_sketches")})
    st.write(a.out, out, {KEY: json.dumps({"steps_per_std": STEPS_PER_STD, "mean": mean, "std": std})})
    print(f"wrote {a.out}: {sum(v.nbytes for v in out.values()) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
