"""Small image data sets for the notebooks and the checks, offline first.

* `Digits`: scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes; no download) as a
  torchvision-style `Dataset`: ``dataset[i]`` is ``(image, label)`` with ``image`` a float32 tensor (1, 8, 8) in
  [0, 1] and ``label`` an int, and ``transform`` / ``target_transform`` take any callable, such as the
  ``torchvision.transforms.v2`` transforms. The train/test split is fixed (every fifth image is a test image), so
  every notebook, check and student sees the same split, whatever the library versions.
* `digits_tensors(train)`: the same split as two whole tensors, for full-batch training.
* `mnist(root, train, download)`, `cifar10(root, train, download)`: the standard data sets through
  ``torchvision.datasets``, as float tensors in [0, 1] (MNIST (1, 28, 28), CIFAR-10 (3, 32, 32)). They need the
  files under ``root``, or the network once with ``download=True``.

Example (the random one-pixel shift the CNN notebook trains with)::

    from torchvision.transforms import v2
    from dlcourse.datasets import Digits
    train = Digits(train=True, transform=v2.RandomCrop(8, padding=1))
    image, label = train[0]        # image: float32 (1, 8, 8), label: int
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import VisionDataset

__all__ = ["Digits", "digits_tensors", "mnist", "cifar10", "DIGITS_CLASSES", "TEST_EVERY"]

DIGITS_CLASSES = tuple(str(d) for d in range(10))
TEST_EVERY = 5  # image i is a test image when i % TEST_EVERY == TEST_EVERY - 1: 359 test, 1438 train images


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no network

    images, labels = load_digits(return_X_y=True)  # (1797, 64) integers 0..16, (1797,)
    return images.reshape(-1, 1, 8, 8) / 16.0, labels


def _split_index(n: int, train: bool) -> np.ndarray:
    test = np.arange(n) % TEST_EVERY == TEST_EVERY - 1
    return np.flatnonzero(~test if train else test)


def digits_tensors(train: bool = True, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of one split as whole tensors: images (N, 1, 8, 8) in [0, 1] and labels (N,) int64.

    N is 1438 for the training split and 359 for the test split (`TEST_EVERY`)."""
    images, labels = _digits_arrays()
    index = _split_index(len(labels), train)
    return (torch.as_tensor(images[index], dtype=dtype).contiguous(),
            torch.as_tensor(labels[index], dtype=torch.int64).contiguous())


class Digits(VisionDataset):
    """scikit-learn's 8x8 digits as a torchvision-style data set (no download, no files).

    Args:
        root: ignored (the images ship with scikit-learn); kept so the signature matches torchvision's data sets.
        train: the training split (1438 images) when True, the test split (359 images) when False.
        transform: applied to the image, a float32 tensor (1, 8, 8) in [0, 1] (e.g. a ``transforms.v2`` transform).
        target_transform: applied to the label, an int in 0..9.
    """

    classes = list(DIGITS_CLASSES)

    def __init__(self, root: str | Path | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self.data, self.targets = digits_tensors(train)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


# ----------------------------------------------------------------------------------------- torchvision's own

def _to_float_image():
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def mnist(root: str | Path = "data", train: bool = True, download: bool = False,
          transform: Callable | None = None, target_transform: Callable | None = None):
    """MNIST (LeCun et al., 1998) through ``torchvision.datasets.MNIST``: 60000 training / 10000 test images.

    Each item is ``(image, label)``: image a float32 tensor (1, 28, 28) in [0, 1], then ``transform`` (if any).
    The files are read from ``root/MNIST/raw`` (the idx-ubyte files); ``download=True`` fetches them once (needs
    the network)."""
    from torchvision import datasets
    from torchvision.transforms import v2

    to_tensor = _to_float_image()
    return datasets.MNIST(str(root), train=train, download=download,
                          transform=to_tensor if transform is None else v2.Compose([to_tensor, transform]),
                          target_transform=target_transform)


def cifar10(root: str | Path = "data", train: bool = True, download: bool = False,
            transform: Callable | None = None, target_transform: Callable | None = None):
    """CIFAR-10 (Krizhevsky, 2009) through ``torchvision.datasets.CIFAR10``: 50000 training / 10000 test images.

    Each item is ``(image, label)``: image a float32 tensor (3, 32, 32) in [0, 1], then ``transform`` (if any).
    The python-pickle batches are read from ``root/cifar-10-batches-py``; ``download=True`` fetches them once
    (needs the network; torchvision then checks their MD5 sums)."""
    from torchvision import datasets
    from torchvision.transforms import v2

    to_tensor = _to_float_image()
    return datasets.CIFAR10(str(root), train=train, download=download,
                            transform=to_tensor if transform is None else v2.Compose([to_tensor, transform]),
                            target_transform=target_transform)
