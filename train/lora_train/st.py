"""safetensors files: an 8-byte little-endian header length, a JSON header, raw tensors.

Small enough to keep here, so the trainer needs nothing beyond torch and numpy on a
machine without network (the format: https://github.com/huggingface/safetensors).
"""

import json
import os
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "I64": np.int64}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}
MAX_HEADER = 100 << 20


def read(path):
    """(tensors as numpy arrays by name, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    return parse(data)


def parse(data):
    if len(data) < 8:
        raise ValueError("not a safetensors file: shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(MAX_HEADER, len(data) - 8):
        raise ValueError(f"not a safetensors file: header of {n} bytes")
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n :]
    out = {}
    for name, t in header.items():
        if t["dtype"] not in DTYPES:
            raise ValueError(f"{name}: dtype {t['dtype']} is not supported")
        lo, hi = t["data_offsets"]
        dtype = np.dtype(DTYPES[t["dtype"]])
        shape = tuple(t["shape"])
        if not 0 <= lo <= hi <= len(body) or hi - lo != int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"{name}: data offsets {lo}..{hi} do not fit shape {shape}")
        out[name] = np.frombuffer(body[lo:hi], dtype=dtype).reshape(shape)
    return out, meta


def serialize(tensors, metadata=None):
    """Bytes of a safetensors file: tensors sorted by name, as the Rust crate writes them."""
    header, chunks, at = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def write(path, tensors, metadata=None):
    """Writes atomically: a temporary file beside `path`, then a rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(serialize(tensors, metadata))
    os.replace(tmp, path)
