"""The Gaussian noise of `shared/src/noise.rs` (Philox4x32-10, Box-Muller in f64),
vectorised in numpy. The trainer draws its validation noise from it, so its held-out loss
is the one `train-base` reports. `tests/test_noise.py` checks it against the Rust golden
vectors."""

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
MASK = np.uint64(0xFFFFFFFF)

INITIAL = 0


def candidate(step, index):
    """The stream id of `Stream::Candidate { step, index }`."""
    return (2 << 56) | (step << 32) | index


def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on arrays of counters (uint32) with one key."""
    c = [np.asarray(x, dtype=np.uint32) for x in (c0, c1, c2, c3)]
    k = [np.uint32(k0), np.uint32(k1)]
    with np.errstate(over="ignore"):
        for r in range(10):
            if r:
                k = [k[0] + W0, k[1] + W1]
            p0 = M0 * c[0].astype(np.uint64)
            p1 = M1 * c[2].astype(np.uint64)
            c = [
                (p1 >> np.uint64(32)).astype(np.uint32) ^ c[1] ^ k[0],
                (p1 & MASK).astype(np.uint32),
                (p0 >> np.uint64(32)).astype(np.uint32) ^ c[3] ^ k[1],
                (p0 & MASK).astype(np.uint32),
            ]
    return c


def gaussian(seed, stream, n):
    """Elements 0..n of the Gaussian sequence of `stream` under `seed`, as float32."""
    blocks = np.arange((n + 1) // 2, dtype=np.uint64)
    lo, hi = (blocks & MASK).astype(np.uint32), (blocks >> np.uint64(32)).astype(np.uint32)
    s = np.full(blocks.shape, stream & 0xFFFFFFFF, dtype=np.uint32)
    s_hi = np.full(blocks.shape, stream >> 32, dtype=np.uint32)
    b = philox(lo, hi, s, s_hi, seed & 0xFFFFFFFF, seed >> 32)
    x = b[0].astype(np.uint64) | (b[1].astype(np.uint64) << np.uint64(32))
    y = b[2].astype(np.uint64) | (b[3].astype(np.uint64) << np.uint64(32))
    u1 = ((x >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0**-53
    u2 = (y >> np.uint64(11)).astype(np.float64) * 2.0**-53
    r = np.sqrt(-2.0 * np.log(u1))
    a = 2.0 * np.pi * u2
    return np.stack([r * np.cos(a), r * np.sin(a)], -1).reshape(-1)[:n].astype(np.float32)
