"""Deterministic byte packing of a few numpy arrays plus a JSON-able dict (chunk checkpoints)."""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np

_MAGIC = b"GWG1"


def pack(kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    names = sorted(arrays)
    parts = []
    specs = []
    for name in names:
        a = np.ascontiguousarray(arrays[name])
        specs.append([name, a.dtype.str, list(a.shape)])
        parts.append(a.tobytes())
    header = json.dumps({"kind": kind, "meta": meta, "arrays": specs}, sort_keys=True,
                        separators=(",", ":")).encode()
    body = zlib.compress(b"".join(parts), 1)
    return _MAGIC + struct.pack("<I", len(header)) + header + body


def unpack(kind: str, data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    data = bytes(data)
    if data[:4] != _MAGIC:
        raise ValueError(f"not a {kind} payload")
    (hlen,) = struct.unpack("<I", data[4:8])
    header = json.loads(data[8:8 + hlen])
    if header["kind"] != kind:
        raise ValueError(f"payload is a {header['kind']}, expected {kind}")
    body = zlib.decompress(data[8 + hlen:])
    arrays = {}
    off = 0
    for name, dt, shape in header["arrays"]:
        dtype = np.dtype(dt)
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * dtype.itemsize
        arrays[name] = np.frombuffer(body, dtype=dtype, count=count, offset=off).reshape(shape).copy()
        off += nbytes
    return header["meta"], arrays
