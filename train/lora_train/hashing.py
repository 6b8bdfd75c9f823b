"""The balanced, seeded index map of `shared/src/hashing.rs` (`IndexMap`): LoRA entry p
of D reads theta[index[p]] * scale[p]; index is `p mod k` shuffled by Fisher-Yates with
the IndexMap noise stream, scale = 1 / sqrt(uses). Pinned to Rust through the restorer's
golden file (`restorer_golden.py`, `shared/tests/restorer_parity.rs`)."""

import numpy as np

from .noise import MASK, philox

INDEX_MAP = 1 << 56  # `Stream::IndexMap.id()`


def u64s(seed, stream, n):
    """Elements 0..n of `noise::u64_at(seed, stream, i)`."""
    blocks = np.arange((n + 1) // 2, dtype=np.uint64)
    lo, hi = (blocks & MASK).astype(np.uint32), (blocks >> np.uint64(32)).astype(np.uint32)
    s = np.full(blocks.shape, stream & 0xFFFFFFFF, dtype=np.uint32)
    s_hi = np.full(blocks.shape, stream >> 32, dtype=np.uint32)
    b = [w.astype(np.uint64) for w in philox(lo, hi, s, s_hi, seed & 0xFFFFFFFF, seed >> 32)]
    return np.stack([b[0] | (b[1] << np.uint64(32)), b[2] | (b[3] << np.uint64(32))], -1).reshape(-1)[:n]


def index_map(d, k, seed):
    """(index [d] int64, scale [d] float32) of `IndexMap::new` for D = d entries."""
    if not 1 <= k <= d:
        raise ValueError(f"k = {k} must be in 1..={d}")
    index = [p % k for p in range(d)]
    r = u64s(seed, INDEX_MAP, d)
    for i in range(d - 1, 0, -1):
        j = (int(r[d - 1 - i]) * (i + 1)) >> 64
        index[i], index[j] = index[j], index[i]
    index = np.array(index, dtype=np.int64)
    floor = d // k
    scale = np.where(index < d % k, 1 / np.sqrt(floor + 1.0), 1 / np.sqrt(float(floor))).astype(np.float32)
    return index, scale
