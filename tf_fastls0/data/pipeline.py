"""tf.data pipelines: ``(image float32 [0,1] NHWC, label int32, example_index int64)`` batches.

The training stream is a pure function of ``(seed, epoch, step)``: each epoch's order is a seeded
shuffle of that epoch's number, and augmentation is drawn from keyed_random keyed by the example
index and the epoch. A run resumed at ``(epoch, step)`` therefore sees exactly the batches the
interrupted run would have seen next.

A split is an in-memory ``ImageSet``, or ``ImageFiles`` or ``TfdsRecords`` to stream. Each is
shuffled as a list of elements (the images, the file paths or the record indices) with the same
seed, so all give the same order; files and records are then read, decoded and augmented in
parallel by the map, with memory bounded by the prefetch rather than by the data set's size.
"""

import tensorflow as tf

from tf_fastls0.data.image_set import RESIZED_CROP, ImageSet
from tf_fastls0.data.imagenet_crops import random_resized_crop_and_flip
from tf_fastls0.utils import keyed_random

CROP_PADDING = 4  # SPEC §6: random crop with 4-pixel padding, then horizontal flip


def training_dataset(image_set, batch_size, epochs, seed=0, augment=True, start_epoch=0,
                     skip_steps=0):
    """Batches for epochs ``start_epoch .. epochs-1``, ``len // batch_size`` full batches each."""
    base = _slices(image_set)
    num_examples = len(image_set)
    steps = num_examples // batch_size

    def one_epoch(epoch):
        # A Python-int seed per epoch: shuffle's tensor-seed path breaks once a global seed is set.
        shuffled = base.shuffle(num_examples, seed=seed * 100003 + epoch,
                                reshuffle_each_iteration=False)
        prepare = _training_transform(image_set, augment, seed, epoch)
        if prepare is not None:
            shuffled = shuffled.map(lambda x, y, i: (prepare(x, i), y, i),
                                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return shuffled.batch(batch_size, drop_remainder=True)

    epochs_left = list(range(start_epoch, epochs))
    order = tf.data.Dataset.range(len(epochs_left)).flat_map(
        lambda e: tf.data.Dataset.from_tensors(e).repeat(steps))
    dataset = tf.data.Dataset.choose_from_datasets([one_epoch(e) for e in epochs_left], order)
    return dataset.skip(skip_steps).map(_to_float).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(image_set, batch_size):
    """All examples in their stored order, the last batch possibly smaller."""
    elements = _slices(image_set)
    if not isinstance(image_set, ImageSet):
        elements = elements.map(lambda x, y, i: (image_set.unaugmented(image_set.load(x)), y, i),
                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return elements.batch(batch_size).map(_to_float).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(image_set, batch_size):
    return len(image_set) // batch_size


def random_crop_and_flip(image, example_index, seed, epoch):
    """Pads by CROP_PADDING with zeros, crops back at a keyed random offset, flips half the time."""
    height, width = image.shape[0], image.shape[1]
    keys = tf.reshape(example_index, [1])
    offsets = keyed_random.integers(keys, [2], 2 * CROP_PADDING + 1, seed, epoch,
                                    keyed_random.STREAM_CROP)[0]
    flip = keyed_random.uniform(keys, [], seed, epoch, keyed_random.STREAM_FLIP)[0] < 0.5
    padded = tf.pad(image, [[CROP_PADDING, CROP_PADDING], [CROP_PADDING, CROP_PADDING], [0, 0]])
    cropped = tf.slice(padded, [offsets[0], offsets[1], 0], [height, width, -1])
    return tf.cond(flip, lambda: tf.reverse(cropped, axis=[1]), lambda: cropped)


def _training_transform(image_set, augment, seed, epoch):
    """``(element, index) -> uint8 image`` for one epoch, None where the element is the image."""
    if isinstance(image_set, ImageSet):
        if not augment:
            return None
        return lambda image, index: random_crop_and_flip(image, index, seed, epoch)
    if not augment:
        return lambda path, index: image_set.unaugmented(image_set.load(path))
    if image_set.augmentation == RESIZED_CROP:
        return lambda path, index: random_resized_crop_and_flip(
            image_set.load(path), index, seed, epoch, image_set.crop_size)
    return lambda path, index: random_crop_and_flip(image_set.load(path), index, seed, epoch)


def _slices(image_set):
    """``(element, label, example index)`` in stored order; the element is the image, the file
    path or the record index."""
    indices = tf.range(len(image_set), dtype=tf.int64)
    items = image_set.images if isinstance(image_set, ImageSet) else image_set.elements
    return tf.data.Dataset.from_tensor_slices((items, image_set.labels, indices))


def _to_float(images, labels, indices):
    return tf.cast(images, tf.float32) / 255.0, labels, indices
