"""The denoiser file that `lora-video pack-base` reads (`shared/src/model/base.rs`
`denoiser_package`): f16 weights by name and the manifest as JSON in the safetensors
metadata key `lora_video_manifest`."""

import json

import numpy as np
import torch

from . import st
from .model import Config

MANIFEST_KEY = "lora_video_manifest"
# Sampler defaults of a new base model, as `train-base` writes them.
SAMPLER = {"steps": 8, "shift": 3.0}


def manifest(config: Config, norm, name="lora-video-base"):
    return {
        "format": "lora-video-model",
        "version": 1,
        "name": name,
        "architecture": {"denoiser": dict(sorted(config.to_json().items()))},
        "lora_targets": 0,  # LoraTargets::AttentionQkvo
        "lora_rank": config.lora_rank,
        "latent": {"mean": list(norm[0]), "std": list(norm[1])},
        "sampler": SAMPLER,
    }


def write(path, model, norm):
    """Writes `model`'s weights (f16) and manifest to `path`, atomically."""
    tensors = {n: p.detach().float().cpu().numpy().astype(np.float16) for n, p in model.state_dict().items()}
    st.write(path, tensors, {MANIFEST_KEY: json.dumps(manifest(model.config, norm), separators=(",", ":"))})


def read(path):
    """(Config, state dict of f32 tensors, (mean, std)) of a denoiser file."""
    tensors, meta = st.read(path)
    if MANIFEST_KEY not in meta:
        raise ValueError(f"{path}: no lora-video manifest")
    m = json.loads(meta[MANIFEST_KEY])
    if m.get("format") != "lora-video-model":
        raise ValueError(f"{path}: not a lora-video model package")
    config = Config(**m["architecture"]["denoiser"])
    state = {n: torch.from_numpy(a.astype(np.float32)) for n, a in tensors.items()}
    return config, state, (m["latent"]["mean"], m["latent"]["std"])


def warm_start(model, path):
    """Loads the denoiser file `path` into `model`; input rows the file lacks (a sketch
    model's condition channels of `patch_in`) start at zero, so the model begins as the
    file's model without a sketch. Returns the file's latent normalisation."""
    _, state, norm = read(path)
    w = state["patch_in.weight"]
    want = model.patch_in.weight.shape[0]
    if w.shape[0] < want:
        state["patch_in.weight"] = torch.cat([w, w.new_zeros(want - w.shape[0], w.shape[1])])
    model.load_state_dict(state)
    return norm
