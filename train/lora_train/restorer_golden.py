"""Writes `golden/restorer.safetensors`, the file that pins the PyTorch restorer
(`restorer.py`) and burn's (`shared/src/model/restorer.rs`) together: a small
configuration's weights (all random, the zero-init output conv too), inputs, and the
outputs computed in float64: the frozen model, with a clip's modulation (FiLM), and with
a clip's vector theta through the index map into LoRA factors of every conv (`LORA`).

    python -m lora_train.restorer_golden [PATH]

`tests/test_restorer.py` checks the mirror against it; `shared/tests/restorer_parity.rs`
checks burn's forward. Regenerate only when the architecture changes on purpose.
"""

import dataclasses
import json
import sys

import torch

from . import st
from .hashing import index_map
from .restore_train import lora_updates
from .restorer import Config, Restorer

# Non-square frames and a width unlike the other sizes, so a swapped axis shows.
CONFIG = Config(width=8, depth=3, shuffle=2, neighbours=1)
SHAPE = (2, 3, 8, 12)  # B, C, H, W
PATH = "golden/restorer.safetensors"
# A clip's LoRA: theta's length, the LoRA rank (2, so a swapped factor axis shows) and
# the index map's seed.
LORA = {"k": 37, "rank": 2, "hash_seed": 9}


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
    theta = torch.randn(LORA["k"], generator=g, dtype=torch.float64) * 0.5
    shapes = model.lora_shapes()
    index, scale = index_map(sum(LORA["rank"] * (o + i) for o, i in shapes), LORA["k"], LORA["hash_seed"])
    delta = lora_updates(theta[torch.from_numpy(index)] * torch.from_numpy(scale).double(), shapes, LORA["rank"])
    with torch.no_grad():
        out = {"output.y": model(x, nb, cond), "output.y_film": model(x, nb, cond, film), "output.y_lora": model(x, nb, cond, delta=delta)}
    out.update({"input.x": x, "input.neighbours": nb, "input.cond": cond, "input.film": film, "input.theta": theta})
    out.update(model.state_dict())
    return {n: v.float().numpy() for n, v in out.items()}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else PATH
    st.write(path, tensors(), {"restorer": json.dumps(dataclasses.asdict(CONFIG)), "lora": json.dumps(LORA)})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
