"""The wire format round-trips every kind of value the checks exchange, and refuses what it must not decode."""

import json
import os

import numpy as np
import pytest
import torch

from autograder.sandbox import codec


def roundtrip(value, **decoder_kw):
    header, blobs = codec.encode(value)
    return codec.Decoder(**decoder_kw).decode(header, blobs)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64,
                                   torch.bool, torch.complex64])
def test_tensors_keep_dtype_shape_and_values(dtype):
    t = (torch.randn(3, 4) * 10).to(dtype)
    back = roundtrip(t)
    assert back.dtype == dtype and back.shape == t.shape
    assert torch.equal(back, t)


def test_non_contiguous_and_grad_tensors():
    t = torch.randn(4, 5, requires_grad=True)
    back = roundtrip(t.T)
    assert torch.equal(back, t.detach().T) and not back.requires_grad
    assert roundtrip(t, requires_grad=True).requires_grad


def test_containers_scalars_and_special_floats():
    value = {"a": (1, 2.5, None, True, "s"), "b": [np.arange(6).reshape(2, 3)], 3: float("nan"),
             "big": 2**70, "inf": float("-inf"), "np": np.float32(1.5), "size": torch.Size([2, 3])}
    back = roundtrip(value)
    assert back["a"] == (1, 2.5, None, True, "s")
    assert np.array_equal(back["b"][0], value["b"][0])
    assert np.isnan(back[3]) and back["inf"] == float("-inf") and back["big"] == 2**70
    assert back["np"] == np.float32(1.5) and isinstance(back["np"], np.float32)
    assert back["size"] == (2, 3)


def test_device_is_recorded_and_mapped():
    header, blobs = codec.encode(torch.ones(2))
    doc = json.loads(header)
    assert doc["v"]["device"] == "cpu"
    seen = []
    codec.Decoder(device_map=lambda d: seen.append(d)).decode(header, blobs)
    assert seen == ["cpu"]


@pytest.mark.parametrize("value", [object(), {1.5: 2}, np.array([object()]), lambda: 1])
def test_unsendable_values_are_refused(value):
    with pytest.raises(codec.CodecError):
        codec.encode(value)


@pytest.mark.parametrize("header", [
    b"not json",
    json.dumps({"v": {"$": "pickle", "v": "gASV"}}).encode(),
    json.dumps({"v": {"$": "nd", "dtype": "|O", "shape": [1], "b": 0}}).encode(),
    json.dumps({"v": {"$": "nd", "dtype": "<f8", "shape": [5], "b": 0}}).encode(),
    json.dumps({"v": {"$": "tensor", "dtype": "object", "shape": [1], "b": 0}}).encode(),
])
def test_malformed_or_dangerous_frames_are_rejected(header):
    with pytest.raises(codec.CodecError):
        codec.Decoder().decode(header, [b"\x00" * 8])


def test_frames_over_a_pipe_and_timeouts():
    r, w = os.pipe()
    try:
        codec.send(w, {"x": np.ones(3)})
        header, blobs = codec.read_frame(r, deadline=None)
        assert np.array_equal(codec.Decoder().decode(header, blobs)["x"], np.ones(3))
        import time

        with pytest.raises(codec.ChannelTimeout):
            codec.read_frame(r, deadline=time.monotonic() + 0.05)
        os.write(w, b"XXXX\x00\x00\x00\x00")
        with pytest.raises(codec.CodecError):
            codec.read_frame(r, deadline=time.monotonic() + 1)
    finally:
        os.close(r)
        os.close(w)
    r, w = os.pipe()
    os.close(w)
    with pytest.raises(codec.ChannelClosed):
        codec.read_frame(r)
    os.close(r)
