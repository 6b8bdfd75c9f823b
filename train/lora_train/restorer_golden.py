"""Writes `golden/restorer.safetensors`, the file that pins the PyTorch restorer
(`restorer.py`) and burn's (`shared/src/model/restorer.rs`) together: a small
configuration's weights (all random, the zero-init output conv too), inputs, and the
outputs computed in float64, with and without a clip's modulation.

    python -m lora_train.restorer_golden [PATH]

`tests/test_restorer.py` checks the mirror against it; `shared/tests/restorer_parity.rs`
checks burn's forward. Regenerate only when the architecture changes on purpose.
"""

import dataclasses
import json
import sys

import torch

from . import st
from .restorer import Config, Restorer

# Non-square frames and a width unlike the other sizes, so a swapped axis shows.
CONFIG = Config(width=8, depth=3, shuffle=2, neighbours=1)
SHAPE = (2, 3, 8, 12)  # B, C, H, W
PATH = "golden/restorer.safetensors"


def tensors():
    g = torch.Generator().manual_seed(20261207)
    model = Restorer(CONFIG).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.2)
    b, c, h, w = SHAPE
    x = torch.rand(SHAPE, generator=g, dtype=torch.float64)
    nb = torch.rand((b, 2 * CONFIG.neighbours, c, h, w), generator=g, dtype=torch.float64)
    cond = torch.rand((b, CONFIG.cond), generator=g, dtype=torch.float64)
    film = torch.randn((b, CONFIG.depth, 2, CONFIG.width), generator=g, dtype=torch.float64) * 0.3
    with torch.no_grad():
        out = {"output.y": model(x, nb, cond), "output.y_film": model(x, nb, cond, film)}
    out.update({"input.x": x, "input.neighbours": nb, "input.cond": cond, "input.film": film})
    out.update(model.state_dict())
    return {n: v.float().numpy() for n, v in out.items()}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else PATH
    st.write(path, tensors(), {"restorer": json.dumps(dataclasses.asdict(CONFIG))})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
