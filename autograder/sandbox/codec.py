"""The wire format between the trusted grader and the sandbox worker.

Values cross by value as one frame: a JSON header describing the value tree, followed by raw byte blobs for
arrays and tensors. Nothing is ever unpickled: the decoder only rebuilds plain containers, scalars, NumPy arrays
and torch tensors from dtype names, shapes and bytes, and it validates all of them.

This module must import with the standard library alone (the worker loads it before anything else), so NumPy
and torch are imported lazily, only when a value needs them.

Frame layout: b"DLC1" | u32 header length | header (UTF-8 JSON) | blobs (lengths listed in the header).
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import sys
import time

MAGIC = b"DLC1"
MAX_HEADER = 64 * 1024 * 1024
MAX_BLOBS = 1024 * 1024 * 1024  # 1 GiB of array data in one message
MAX_DEPTH = 64


class CodecError(Exception):
    """A value could not be encoded, or a frame was malformed."""


class ChannelClosed(CodecError):
    """The other side closed the channel (for the grader: the worker died)."""


class ChannelTimeout(CodecError):
    """No complete frame arrived before the deadline."""


# ----------------------------------------------------------------------------------------------- encoding

def _torch():
    return sys.modules.get("torch")


def encode(value) -> tuple[bytes, list[bytes]]:
    """Return (header JSON bytes, blobs) for `value`."""
    blobs: list[bytes] = []
    tree = _enc(value, blobs, 0)
    header = json.dumps({"v": tree, "blobs": [len(b) for b in blobs]}, allow_nan=True).encode()
    return header, blobs


def _enc(v, blobs, depth):
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"$": "int", "v": str(v)} if abs(v) > 2**53 else v
    if isinstance(v, float):
        return {"$": "float", "v": repr(v)} if not math.isfinite(v) else v
    if isinstance(v, tuple):
        return {"$": "tuple", "v": [_enc(x, blobs, depth + 1) for x in v]}
    if isinstance(v, list):
        return [_enc(x, blobs, depth + 1) for x in v]
    if isinstance(v, dict):
        items = []
        for k, x in v.items():
            if not isinstance(k, (str, int)):
                raise CodecError(f"dict keys must be str or int, got {type(k).__name__}")
            items.append([k, _enc(x, blobs, depth + 1)])
        return {"$": "dict", "v": items}
    np = sys.modules.get("numpy")
    torch = _torch()
    if torch is not None:
        if isinstance(v, torch.Tensor):
            return _enc_tensor(v, blobs)
        if isinstance(v, torch.Size):
            return {"$": "tuple", "v": [int(x) for x in v]}
        if isinstance(v, torch.dtype):
            return {"$": "torch.dtype", "v": str(v).removeprefix("torch.")}
        if isinstance(v, torch.device):
            return {"$": "torch.device", "v": str(v)}
    if np is not None:
        if isinstance(v, np.ndarray):
            return _enc_ndarray(v, blobs)
        if isinstance(v, np.generic):
            return {"$": "npscalar", "v": _enc_ndarray(np.asarray(v), blobs)}
        if isinstance(v, np.dtype):
            return {"$": "np.dtype", "v": v.str}
    raise CodecError(f"a value of type {type(v).__module__}.{type(v).__qualname__} cannot be sent back; "
                     "return tensors, arrays, numbers, strings, None, or lists/tuples/dicts of these")


def _enc_ndarray(a, blobs):
    if a.dtype.hasobject or a.dtype.fields is not None:
        raise CodecError(f"NumPy arrays of dtype {a.dtype} cannot be sent")
    blobs.append(a.tobytes(order="C"))
    return {"$": "nd", "dtype": a.dtype.str, "shape": list(a.shape), "b": len(blobs) - 1}


def _enc_tensor(t, blobs):
    torch = _torch()
    if t.layout != torch.strided:
        raise CodecError(f"tensors with layout {t.layout} cannot be sent; use a dense tensor")
    if t.is_quantized:
        raise CodecError("quantized tensors cannot be sent")
    dtype = str(t.dtype).removeprefix("torch.")
    d = t.detach()
    if d.is_conj():
        d = d.resolve_conj()
    d = d.to("cpu").contiguous()
    if dtype == "bfloat16":
        raw = d.view(torch.int16).numpy().tobytes()
    else:
        raw = d.numpy().tobytes()
    blobs.append(raw)
    return {"$": "tensor", "dtype": dtype, "shape": list(d.shape), "device": str(t.device),
            "rg": bool(t.requires_grad), "b": len(blobs) - 1}


# ----------------------------------------------------------------------------------------------- decoding

_TENSOR_DTYPES = {
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
    "complex64", "complex128",
}


class Decoder:
    """Rebuilds values from a header and blobs.

    `device_map(device_str) -> device or None` decides where tensors land (None: CPU).
    `requires_grad`: honour the sender's requires_grad flag (the worker does; the grader does not).
    """

    def __init__(self, device_map=None, requires_grad=False, max_nodes=None, text_safe=False):
        self.device_map = device_map
        self.requires_grad = requires_grad
        self.max_nodes = max_nodes  # the grader caps how many values one answer may hold
        self.text_safe = text_safe  # the grader makes every string valid UTF-8 (no lone surrogates)
        self._nodes = 0

    def decode(self, header: bytes, blobs: list[bytes]):
        self._nodes = 0
        try:
            doc = json.loads(header)
        except (ValueError, RecursionError) as exc:
            raise CodecError(f"malformed header: {exc}") from None
        if not isinstance(doc, dict) or "v" not in doc:
            raise CodecError("malformed header")
        try:
            return self._dec(doc["v"], blobs, 0)
        except CodecError:
            raise
        except (ValueError, TypeError, OverflowError, RecursionError, MemoryError, AttributeError, RuntimeError) as exc:
            raise CodecError(f"malformed value: {type(exc).__name__}: {str(exc)[:200]}") from None

    def _dec(self, t, blobs, depth):
        if depth > MAX_DEPTH:
            raise CodecError("value nested too deeply")
        self._nodes += 1
        if self.max_nodes is not None and self._nodes > self.max_nodes:
            raise CodecError(f"the answer holds more than {self.max_nodes} values (send arrays or tensors)")
        if isinstance(t, str):
            return safe_text(t) if self.text_safe else t
        if t is None or isinstance(t, (bool, int, float)):
            return t
        if isinstance(t, list):
            return [self._dec(x, blobs, depth + 1) for x in t]
        if not isinstance(t, dict):
            raise CodecError("malformed value")
        kind = t.get("$")
        v = t.get("v")
        if kind == "int":
            return int(v)
        if kind == "float":
            return float(v)
        if kind == "tuple":
            return tuple(self._dec(x, blobs, depth + 1) for x in _list(v))
        if kind == "dict":
            out = {}
            for item in _list(v):
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                    raise CodecError("malformed dict item")
                key = safe_text(item[0]) if self.text_safe and isinstance(item[0], str) else item[0]
                out[key] = self._dec(item[1], blobs, depth + 1)
            return out
        if kind == "nd":
            return self._ndarray(t, blobs)
        if kind == "npscalar":
            return self._ndarray(v, blobs)[()]
        if kind == "np.dtype":
            import numpy as np

            return np.dtype(str(v))
        if kind == "tensor":
            return self._tensor(t, blobs)
        if kind == "torch.dtype":
            import torch

            if v not in _TENSOR_DTYPES:
                raise CodecError(f"unknown dtype {v!r}")
            return getattr(torch, v)
        if kind == "torch.device":
            import torch

            return torch.device(str(v))
        raise CodecError(f"unknown value kind {kind!r}")

    def _blob(self, t, blobs):
        i = t.get("b")
        if not isinstance(i, int) or not 0 <= i < len(blobs):
            raise CodecError("bad blob index")
        return blobs[i]

    def _ndarray(self, t, blobs):
        import numpy as np

        if not isinstance(t, dict):
            raise CodecError("malformed array")
        dtype = np.dtype(str(t.get("dtype")))
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufcUS" or dtype.itemsize == 0:
            raise CodecError(f"refusing array dtype {dtype}")
        shape = _shape(t.get("shape"))
        raw = self._blob(t, blobs)
        if len(raw) != dtype.itemsize * math.prod(shape):
            raise CodecError("array size does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    def _tensor(self, t, blobs):
        import numpy as np
        import torch

        dtype = t.get("dtype")
        if dtype not in _TENSOR_DTYPES:
            raise CodecError(f"unknown tensor dtype {dtype!r}")
        shape = _shape(t.get("shape"))
        raw = self._blob(t, blobs)
        np_dtype = np.dtype("int16" if dtype == "bfloat16" else ("bool" if dtype == "bool" else dtype))
        if len(raw) != np.dtype(np_dtype).itemsize * math.prod(shape):
            raise CodecError("tensor size does not match its shape")
        arr = np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()
        out = torch.from_numpy(arr)
        if dtype == "bfloat16":
            out = out.view(torch.bfloat16)
        target = self.device_map(str(t.get("device", "cpu"))) if self.device_map else None
        if target is not None:
            out = out.to(target)
        if self.requires_grad and t.get("rg") and out.is_floating_point():
            out.requires_grad_(True)
        return out


def _list(v):
    if not isinstance(v, list):
        raise CodecError("malformed container")
    return v


def _shape(s):
    if not (isinstance(s, list) and all(isinstance(n, int) and n >= 0 for n in s)):
        raise CodecError("malformed shape")
    return tuple(s)


# ----------------------------------------------------------------------------------------------- framing

def write_frame(fd: int, header: bytes, blobs: list[bytes], deadline: float | None = None, check=None) -> None:
    """Write one frame. With a `deadline` (time.monotonic()), `fd` must be non-blocking: a reader that stops
    reading (or a pipe that someone else filled) raises ChannelTimeout instead of blocking forever. `check()`
    is called while waiting and may raise ChannelTimeout itself (the grader's CPU-time limit)."""
    buf = b"".join([MAGIC, struct.pack("<I", len(header)), header, *blobs])
    view = memoryview(buf)
    while view:
        if deadline is not None:
            left = _wait(fd, deadline, check, write=True)
            if not left:
                continue
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[n:]


def read_frame(fd: int, deadline: float | None = None, check=None, max_header: int = MAX_HEADER,
               max_blobs: int = MAX_BLOBS) -> tuple[bytes, list[bytes]]:
    """Read one frame; raise ChannelTimeout after `deadline` (time.monotonic()) or when `check()` does,
    ChannelClosed on EOF, CodecError when the frame is larger than `max_header`/`max_blobs` bytes."""
    head = _read_exact(fd, 8, deadline, check)
    if head[:4] != MAGIC:
        raise CodecError("bad frame magic (the channel is corrupted)")
    (n,) = struct.unpack("<I", head[4:])
    if n > max_header:
        raise CodecError(f"frame header too large ({n} bytes, at most {max_header})")
    header = _read_exact(fd, n, deadline, check)
    try:
        sizes = json.loads(header).get("blobs", [])
    except (ValueError, AttributeError, RecursionError):
        raise CodecError("malformed frame header") from None
    if not (isinstance(sizes, list) and all(type(s) is int and s >= 0 for s in sizes)):
        raise CodecError("malformed frame header")
    if sum(sizes) > max_blobs:
        raise CodecError(f"frame too large ({sum(sizes)} bytes of array data, at most {max_blobs})")
    return header, [_read_exact(fd, s, deadline, check) for s in sizes]


POLL = 0.1  # seconds between two `check()` calls while waiting


def _wait(fd: int, deadline: float, check, write: bool = False) -> bool:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ChannelTimeout("deadline passed")
    step = min(left, POLL) if check is not None else left
    ready = select.select([], [fd], [], step)[1] if write else select.select([fd], [], [], step)[0]
    if not ready:
        if check is not None:
            check()
        if time.monotonic() >= deadline:
            raise ChannelTimeout("deadline passed")
        return False
    return True


def _read_exact(fd: int, n: int, deadline: float | None, check=None) -> bytes:
    chunks = []
    while n > 0:
        if deadline is not None and not _wait(fd, deadline, check):
            continue
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except BlockingIOError:
            continue
        if not chunk:
            raise ChannelClosed("channel closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def safe_text(text: str) -> str:
    """`text` as valid UTF-8 (a lone surrogate, which cannot be printed or written, becomes U+FFFD)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def send(fd: int, value, deadline: float | None = None, check=None) -> None:
    header, blobs = encode(value)
    write_frame(fd, header, blobs, deadline, check)
