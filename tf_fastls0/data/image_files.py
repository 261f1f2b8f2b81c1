"""A split of an image folder left on disk: file paths and labels, each image read and decoded
by tf.data when a batch needs it (the streaming path).

It answers what the trainer, the evaluation and the analysis ask of an in-memory ``ImageSet``
(length, labels, class names, image shape, a subset, some images as float32), so either can be
a split of ``DataSplits``. The position of a file in ``paths`` is its example index.
"""

import dataclasses
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from tf_fastls0.data.image_set import PAD_CROP, RESIZED_CROP, DataError, ImageSet
from tf_fastls0.data.streamed_split import StreamedSplit
from tf_fastls0.data.imagenet_crops import resize_and_centre_crop

KEEP = "keep"
RESIZE = "resize"  # to a square of `size`
CENTRE_CROP = "centre_crop"  # ImageNet's test transform to `size`


@dataclasses.dataclass(frozen=True)
class Decoding:
    """How a file becomes the uint8 image a split holds: decoded, then kept, resized to a
    square or resized and centre-cropped. Both data paths decode through it."""

    transform: str = KEEP
    size: Optional[int] = None
    channels: int = 3

    def __call__(self, path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=self.channels,
                                   expand_animations=False)
        if self.transform == RESIZE:
            image = tf.image.resize(image, [self.size, self.size], antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        elif self.transform == CENTRE_CROP:
            image = resize_and_centre_crop(image, self.size)
        return image


@dataclasses.dataclass(frozen=True)
class ImageFiles(StreamedSplit):
    """One split as files. ``augmentation`` says how training augments it: PAD_CROP (decoded
    images all of ``image_shape``) or RESIZED_CROP (originals of any size, cropped to
    ``image_shape``; unaugmented, they get the test transform)."""

    ELEMENTS = "paths"

    paths: np.ndarray  # str
    labels: np.ndarray
    class_names: tuple
    decoding: Decoding
    image_shape: tuple
    augmentation: str = PAD_CROP

    def __post_init__(self):
        if len(self.paths) != len(self.labels):
            raise DataError(f"{len(self.paths)} files but {len(self.labels)} labels")

    def load(self, path):
        """The image of one file as this split holds it (uint8; tf.data map function)."""
        image = self.decoding(path)
        if self.augmentation == PAD_CROP:  # an image of another size stops the stream here
            return tf.ensure_shape(image, self.image_shape)
        return tf.ensure_shape(image, [None, None, self.decoding.channels])

    def unaugmented(self, image):
        """A loaded image as an unaugmented batch shows it."""
        if self.augmentation == RESIZED_CROP:
            return resize_and_centre_crop(image, self.crop_size)
        return image

    def decoded(self):
        """This split decoded into memory, as an ``ImageSet`` (PAD_CROP splits only)."""
        return ImageSet(_decode_all(self.paths, self.decoding), self.labels, self.class_names)


def _decode_all(paths, decoding):
    dataset = tf.data.Dataset.from_tensor_slices(paths).map(
        decoding, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    try:
        images = [image.numpy() for image in dataset]
    except tf.errors.OpError:
        raise DataError(f"image {_first_undecodable(paths, decoding)} does not decode") from None
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise DataError(f"images of {_split_dir(paths[0])} differ in size ({sorted(shapes)[:3]}"
                        "...); pass an image size to resize them")
    return np.stack(images)


def _first_undecodable(paths, decoding):
    for path in paths:
        try:
            decoding(path)
        except tf.errors.OpError:
            return path
    return "(unknown)"


def _split_dir(path):
    return os.path.dirname(os.path.dirname(path))
