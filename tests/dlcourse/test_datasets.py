"""dlcourse.datasets: the bundled 8x8 digits as a torchvision-style data set with a fixed split, and the MNIST and
CIFAR-10 loaders through torchvision.datasets, tested offline on tiny files written here in those data sets'
on-disk formats (MNIST's idx-ubyte files, CIFAR-10's python pickle batches). Also: torchvision itself imports and
runs (an op and a v2 transform)."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch

torchvision = pytest.importorskip("torchvision")
from torchvision.transforms import v2  # noqa: E402

from dlcourse import datasets  # noqa: E402
from dlcourse.datasets import Digits, digits_tensors  # noqa: E402

# ------------------------------------------------------------------------------------------------ torchvision


def test_torchvision_imports_and_runs_an_op_and_a_v2_transform():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    keep = torchvision.ops.nms(boxes, scores, iou_threshold=0.5)  # box 1 overlaps box 0 (IoU 0.68): dropped
    assert keep.tolist() == [0, 2]
    image = torch.arange(64, dtype=torch.float32).reshape(1, 8, 8)
    flipped = v2.RandomHorizontalFlip(p=1.0)(image)
    assert torch.equal(flipped, image.flip(-1))


def test_random_crop_with_padding_is_a_shift_of_at_most_one_pixel():
    torch.manual_seed(0)
    image = torch.rand(1, 8, 8) + 0.1  # no zeros, so the padding shows
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    windows = {(dy, dx): padded[:, dy:dy + 8, dx:dx + 8] for dy in range(3) for dx in range(3)}
    seen = set()
    for _ in range(60):
        out = v2.RandomCrop(8, padding=1)(image)
        match = [k for k, w in windows.items() if torch.equal(out, w)]
        assert len(match) == 1
        seen.add(match[0])
    assert len(seen) > 4  # the shift is random


# ------------------------------------------------------------------------------------------------ digits


def test_digits_split_is_fixed_disjoint_and_complete():
    from sklearn.datasets import load_digits

    x_tr, y_tr = digits_tensors(train=True)
    x_te, y_te = digits_tensors(train=False)
    assert x_tr.shape == (1438, 1, 8, 8) and x_te.shape == (359, 1, 8, 8)
    assert y_tr.shape == (1438,) and y_te.shape == (359,)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    assert 0.0 <= float(x_tr.min()) and float(x_tr.max()) <= 1.0 and float(x_tr.max()) == 1.0
    assert set(y_tr.tolist()) == set(range(10)) and set(y_te.tolist()) == set(range(10))
    images, labels = load_digits(return_X_y=True)
    test = np.arange(len(labels)) % datasets.TEST_EVERY == datasets.TEST_EVERY - 1
    np.testing.assert_allclose(x_te.reshape(-1, 64).numpy(), images[test] / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(y_tr.numpy(), labels[~test])
    again, _ = digits_tensors(train=True)
    assert torch.equal(again, x_tr)  # the same split every time
    assert digits_tensors(train=True, dtype=torch.float64)[0].dtype == torch.float64


def test_digits_is_a_torchvision_style_dataset():
    train, test = Digits(train=True), Digits(root="ignored", train=False)
    assert isinstance(train, torchvision.datasets.VisionDataset)
    assert len(train) == 1438 and len(test) == 359
    image, label = train[5]
    assert isinstance(label, int) and 0 <= label <= 9
    assert image.shape == (1, 8, 8) and image.dtype == torch.float32
    assert torch.equal(image, digits_tensors(train=True)[0][5])
    assert train.classes == [str(d) for d in range(10)]
    assert "Split: Train" in repr(train)


def test_digits_applies_v2_transforms_and_target_transforms():
    data = Digits(train=False, transform=v2.Compose([v2.RandomHorizontalFlip(p=1.0), v2.Normalize([0.5], [0.5])]),
                  target_transform=lambda y: y + 100)
    image, label = data[3]
    raw, raw_label = digits_tensors(train=False)
    assert label == int(raw_label[3]) + 100
    torch.testing.assert_close(image, (raw[3].flip(-1) - 0.5) / 0.5)
    shifted = Digits(train=True, transform=v2.RandomCrop(8, padding=1))
    assert shifted[0][0].shape == (1, 8, 8)


def test_digits_batches_through_a_dataloader():
    loader = torch.utils.data.DataLoader(Digits(train=True, transform=v2.RandomCrop(8, padding=1)), batch_size=100,
                                         shuffle=True)
    images, labels = next(iter(loader))
    assert images.shape == (100, 1, 8, 8) and labels.shape == (100,) and labels.dtype == torch.int64


# ------------------------------------------------------------------------------------------------ MNIST


def _write_idx(path, array, magic_type=0x08):
    """An idx file as MNIST ships it: magic (0, 0, type, ndim), the dims as big-endian int32, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, magic_type, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    splits = {}
    for prefix, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = rng.integers(0, 10, size=n)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        splits[prefix] = (images, labels)
    return tmp_path, splits


def test_mnist_reads_idx_files_as_float_images(tiny_mnist):
    root, splits = tiny_mnist
    for train, prefix in ((True, "train"), (False, "t10k")):
        data = datasets.mnist(root, train=train, download=False)
        images, labels = splits[prefix]
        assert len(data) == len(labels)
        image, label = data[1]
        assert image.shape == (1, 28, 28) and image.dtype == torch.float32
        np.testing.assert_allclose(image[0].numpy(), images[1] / 255.0, rtol=1e-6)
        assert label == labels[1]


def test_mnist_composes_a_user_transform(tiny_mnist):
    root, splits = tiny_mnist
    data = datasets.mnist(root, train=True, transform=v2.RandomCrop(28, padding=2))
    assert data[0][0].shape == (1, 28, 28)


def test_mnist_without_files_and_without_download_says_so(tmp_path):
    with pytest.raises(RuntimeError, match="not found"):
        datasets.mnist(tmp_path, train=True, download=False)


# ------------------------------------------------------------------------------------------------ CIFAR-10


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    """cifar-10-batches-py with 2 images per batch. torchvision checks the real files' MD5 sums, which tiny files
    cannot match: the check is reduced to 'the file exists' (what it checks is the format, not the download)."""
    import os

    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(2, 3 * 32 * 32), dtype=np.uint8)  # rows: R plane, G plane, B plane
        labels = [int(v) for v in rng.integers(0, 10, size=2)]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels, "filenames": ["a.png", "b.png"]}, f)
        batches[name] = (data, labels)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": 2, "num_vis": 3072}, f)
    return tmp_path, batches


def test_cifar10_reads_pickle_batches_as_float_images(tiny_cifar):
    root, batches = tiny_cifar
    train = datasets.cifar10(root, train=True)
    test = datasets.cifar10(root, train=False)
    assert len(train) == 10 and len(test) == 2
    assert train.classes[3] == "cat"
    image, label = train[2]  # the first image of data_batch_2
    data, labels = batches["data_batch_2"]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    np.testing.assert_allclose(image.numpy(), data[0].reshape(3, 32, 32) / 255.0, rtol=1e-6)
    assert label == labels[0]
    image, label = test[1]
    np.testing.assert_allclose(image.numpy(), batches["test_batch"][0][1].reshape(3, 32, 32) / 255.0, rtol=1e-6)


def test_cifar10_composes_a_user_transform(tiny_cifar):
    root, _ = tiny_cifar
    data = datasets.cifar10(root, train=True, transform=v2.RandomHorizontalFlip(p=1.0))
    plain = datasets.cifar10(root, train=True)
    torch.testing.assert_close(data[0][0], plain[0][0].flip(-1))
