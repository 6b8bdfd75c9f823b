"""The held-out loss of denoiser files on a latent cache, as `train-base` computes it:

    python -m lora_train.validate --data CACHE [--shift K[,K...]] MODEL.safetensors...

Prints one line per model: the loss with each clip's sketch, and without. `--shift K`
moves every row and column position by K (at 8: where the lower right of a 256 x 256
clip lies); several shifts give the mean of their losses. `--bridge T0` adds the loss on
the decoder's path from the sketch's latents noised to T0 (`train.py --bridge`).
"""

import argparse

import torch

from . import package
from .data import Latents
from .model import Denoiser
from .train import validate


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m lora_train.validate", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--shift", type=lambda v: [int(k) for k in v.split(",")], default=[0], help="the positions' shift; several (0,8): the mean of their losses (--shift 0,N is what a run with --position-shift N logs)")
    p.add_argument("--bridge", type=float, help="also the loss on the decoder's path from t0")
    p.add_argument("models", nargs="+")
    a = p.parse_args(argv)
    data = None
    for path in a.models:
        config, state, norm = package.read(path)
        if data is None or data.norm != (norm[0], norm[1]):
            data = Latents(a.data, torch.device("cpu"), (norm[0], norm[1]))
        model = Denoiser(config)
        model.load_state_dict(state)
        sketch = validate(model, data, True, shifts=a.shift)
        plain = validate(model, data, False, shifts=a.shift) if config.cond_channels else sketch
        bridge = f", bridge {validate(model, data, True, shifts=a.shift, bridge=a.bridge):.6f}" if a.bridge and config.cond_channels else ""
        print(f"{path}: val {sketch:.6f} (no sketch {plain:.6f}{bridge})")


if __name__ == "__main__":
    main()
