"""The held-out loss of denoiser files on a latent cache, as `train-base` computes it:

    python -m lora_train.validate --data CACHE [--shift K] MODEL.safetensors...

Prints one line per model: the loss with each clip's sketch, and without. `--shift K`
gives the mean of the losses at positions shifted by 0 and by K: at K = 8 the lower
right of a 256 x 256 clip counts as much as its upper left.
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
    p.add_argument("--shift", type=int, default=0, help="with N > 0: the mean of the losses at shifts 0 and N (as a run with --position-shift N logs)")
    p.add_argument("models", nargs="+")
    a = p.parse_args(argv)
    data = None
    for path in a.models:
        config, state, norm = package.read(path)
        if data is None or data.norm != (norm[0], norm[1]):
            data = Latents(a.data, torch.device("cpu"), (norm[0], norm[1]))
        model = Denoiser(config)
        model.load_state_dict(state)
        at = lambda s, k: validate(model, data, s, shift=k)
        both = lambda s: at(s, 0) if a.shift == 0 else (at(s, 0) + at(s, a.shift)) / 2
        sketch = both(True)
        plain = both(False) if config.cond_channels else sketch
        print(f"{path}: val {sketch:.6f} (no sketch {plain:.6f})")


if __name__ == "__main__":
    main()
