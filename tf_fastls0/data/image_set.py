"""The in-memory form of a split (every source but a streamed image folder): images, labels,
class names."""

import dataclasses
from typing import ClassVar

import numpy as np

PAD_CROP = "pad_crop"  # images all of one size, augmented by a padded crop and a flip
RESIZED_CROP = "resized_crop"  # originals of any size, random-resized crop and a flip


class DataError(ValueError):
    """A data source that cannot be used; the message names the path or data set at fault."""


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """One split of a data set.

    ``images`` is uint8 ``[N, H, W, C]`` held in memory. The position of an example in this
    set is its example index, the key of its SAT soft target and of its random draws.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    augmentation: ClassVar[str] = PAD_CROP

    def __post_init__(self):
        if len(self.images) != len(self.labels):
            raise DataError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self):
        return len(self.labels)

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self):
        return len(self.class_names)

    def images_at(self, indices=None):
        """The uint8 images at ``indices`` (all if None)."""
        return self.images if indices is None else self.images[indices]

    def float_images(self, indices=None):
        """The images (those at ``indices`` if given) as float32 in [0, 1], as models and
        attacks take them."""
        images = self.images if indices is None else self.images[indices]
        return images.astype(np.float32) / 255.0

    def subset(self, max_examples, seed=0):
        """A fixed random subset of at most ``max_examples`` (all classes represented), in a stable order."""
        if max_examples is None or max_examples >= len(self):
            return self
        chosen = np.sort(np.random.default_rng(seed).permutation(len(self))[:max_examples])
        return ImageSet(self.images[chosen], self.labels[chosen], self.class_names)


@dataclasses.dataclass(frozen=True)
class DataSplits:
    """Training and evaluation splits of one data set, with its name."""

    name: str
    train: ImageSet
    test: ImageSet

    @property
    def num_classes(self):
        return self.train.num_classes

    @property
    def image_shape(self):
        return self.train.image_shape
