"""Writes `golden/parity.safetensors`, the file that pins the PyTorch mirror and burn's
denoiser together: a small configuration's weights (every layer random, the zero-init
gates too, so every path counts), inputs, and the outputs computed in float64.

    python -m lora_train.golden [PATH]

`tests/test_parity.py` checks the mirror against it; `shared/tests/parity.rs` checks
burn's forward. Regenerate only when the architecture changes on purpose.
"""

import json
import sys

import torch

from . import package, st
from .model import Config, Denoiser

# Non-square latents and unequal channel counts, so a swapped axis shows.
CONFIG = Config(latent_channels=4, patch=2, dim=24, depth=2, heads=2, mlp_ratio=2, lora_rank=1, cond_channels=5)
SHAPE = (2, 3, 4, 4, 6)  # B, T, C, h, w
PATH = "golden/parity.safetensors"


def tensors():
    g = torch.Generator().manual_seed(20261127)
    model = Denoiser(CONFIG).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.2)
    b, t, c, h, w = SHAPE
    x = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    times = torch.tensor([0.15, 0.8], dtype=torch.float64)
    cond = torch.randn((b, t, CONFIG.cond_channels, h, w), generator=g, dtype=torch.float64)
    with torch.no_grad():
        out = {"output.v": model(x, times), "output.v_cond": model(x, times, cond)}
    out.update({"input.x": x, "input.t": times, "input.cond": cond})
    out.update(model.state_dict())
    return {n: v.float().numpy() for n, v in out.items()}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else PATH
    meta = {package.MANIFEST_KEY: json.dumps(package.manifest(CONFIG, ([0.0] * 4, [1.0] * 4), "parity-golden"), separators=(",", ":"))}
    st.write(path, tensors(), meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
