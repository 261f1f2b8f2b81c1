"""ImageNet-style crops: a keyed random-resized crop plus flip for training, resize plus centre
crop for testing.

This follows the ImageNet-100 pipeline of the Fast-LS-l0 / sparse-PGD reference code, which is
torchvision's: ``RandomResizedCrop(224)`` + ``RandomHorizontalFlip()`` for training and
``Resize(256)`` + ``CenterCrop(224)`` for testing, generalised to any crop size ``s`` (the
resize goes to ``round(s * 256 / 224)``). Deviations:

- the draws come from ``keyed_random`` (keyed by example index and epoch), not torch's global
  generator, so a resumed run crops exactly as the interrupted one would have;
- the ten attempts at a crop of area 8-100 % and aspect 3/4-4/3 are drawn at once and the first
  that fits is taken (torchvision draws them one after the other: the same distribution); the
  offsets are ``floor(u * (side - crop + 1))`` for a uniform ``u``;
- resizing is TensorFlow's antialiased bilinear (PIL's bilinear, which torchvision uses on
  images, also widens its filter when it shrinks; values may differ by a grey level), and the
  result is rounded to uint8, so both data paths hold the same 8-bit images.
"""

import math

import tensorflow as tf

from tf_fastls0.utils import keyed_random

SCALE = (0.08, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)
ATTEMPTS = 10
RESIZE_PER_CROP = 256.0 / 224.0


def random_resized_crop_and_flip(image, example_index, seed, epoch, size):
    """A keyed random-resized crop of ``image`` (uint8 ``[H, W, C]``, any size) resized to
    ``size`` x ``size``, flipped half the time; uint8."""
    keys = tf.reshape(example_index, [1])
    draws = tf.cast(keyed_random.uniform(keys, [ATTEMPTS, 4], seed, epoch,
                                         keyed_random.STREAM_RESIZED_CROP)[0], tf.float64)
    top, left, height, width = _crop_box(tf.shape(image), draws)
    crop = tf.slice(image, tf.stack([top, left, 0]), tf.stack([height, width, -1]))
    resized = _resize_to_uint8(crop, [size, size])
    flip = keyed_random.uniform(keys, [], seed, epoch, keyed_random.STREAM_FLIP)[0] < 0.5
    return tf.cond(flip, lambda: tf.reverse(resized, axis=[1]), lambda: resized)


def resize_and_centre_crop(image, size):
    """The test transform: shorter side to ``round(size * 256 / 224)``, then the central
    ``size`` x ``size``; uint8."""
    shape = tf.cast(tf.shape(image)[:2], tf.float64)
    short = tf.cast(round(size * RESIZE_PER_CROP), tf.float64)
    # torchvision: the shorter side becomes `short`, the longer int(short * long / short_side)
    scaled = tf.cast(tf.floor(short * shape / tf.reduce_min(shape)), tf.int32)
    target = tf.where(shape == tf.reduce_min(shape), tf.cast(short, tf.int32), scaled)
    resized = _resize_to_uint8(image, target)
    offsets = tf.cast(tf.round(tf.cast(target - size, tf.float64) / 2.0), tf.int32)
    return tf.slice(resized, tf.concat([offsets, [0]], 0), [size, size, -1])


def _crop_box(image_shape, draws):
    """(top, left, height, width) of the first of the attempts that fits, else torchvision's
    fallback: the central crop of the largest aspect within RATIO."""
    height = tf.cast(image_shape[0], tf.float64)
    width = tf.cast(image_shape[1], tf.float64)
    area = height * width * (SCALE[0] + (SCALE[1] - SCALE[0]) * draws[:, 0])
    log_low, log_high = math.log(RATIO[0]), math.log(RATIO[1])
    aspect = tf.exp(log_low + (log_high - log_low) * draws[:, 1])
    crop_w = tf.round(tf.sqrt(area * aspect))
    crop_h = tf.round(tf.sqrt(area / aspect))
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    top = tf.floor(draws[:, 2] * (height - crop_h + 1))
    left = tf.floor(draws[:, 3] * (width - crop_w + 1))
    first = tf.argmax(tf.cast(fits, tf.int32))
    drawn = tf.stack([top[first], left[first], crop_h[first], crop_w[first]])
    box = tf.where(tf.reduce_any(fits), drawn, _fallback_box(height, width))
    return tuple(tf.unstack(tf.cast(box, tf.int32)))


def _fallback_box(height, width):
    ratio = width / height
    crop_w = tf.where(ratio > RATIO[1], tf.round(height * RATIO[1]), width)
    crop_h = tf.where(ratio < RATIO[0], tf.round(width / RATIO[0]), height)
    return tf.stack([tf.floor((height - crop_h) / 2), tf.floor((width - crop_w) / 2),
                     crop_h, crop_w])


def _resize_to_uint8(image, size):
    resized = tf.image.resize(image, size, method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
