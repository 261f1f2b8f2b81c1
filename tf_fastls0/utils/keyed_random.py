"""Random numbers keyed by example, so a draw never depends on how a batch is split.

Every random draw in training and evaluation is a pure function of
``(seed, example key, counter, stream, element position)``. The same image gets the same noise
whether it sits on replica 0 of 2 or alone on one device, and a resumed run redraws exactly what
the killed run drew, because the only state is the step counter that checkpoints already keep.

The generator is a counter-based integer hash (a 32-bit avalanche mix, applied in int64 so that
TensorFlow's kernels for int64 multiply and bitwise ops can be used on every device).
"""

import tensorflow as tf

_MASK32 = 0xFFFFFFFF

# Distinct streams for the independent draws of one step; a new kind of draw gets a new number.
STREAM_MAGNITUDE = 1
STREAM_MASK_LOGITS = 2
STREAM_RESTART = 3
STREAM_VARIANT = 4
STREAM_NOISE_COUNT = 5
STREAM_NOISE_POSITIONS = 6
STREAM_NOISE_VALUES = 7
STREAM_RS = 8
STREAM_CROP = 9
STREAM_HESSIAN_START = 10
STREAM_LANDSCAPE_DIRECTION = 11
STREAM_RS_RECOLOUR = 12
STREAM_SAIF_MAGNITUDE = 13
STREAM_SAIF_MASK = 14
STREAM_CORNERSEARCH = 15
STREAM_FLIP = 16
STREAM_GRADALIGN_POSITIONS = 17
STREAM_GRADALIGN_VALUES = 18
STREAM_RS_GROUPS = 19
STREAM_RESIZED_CROP = 20


def _mix32(h):
    """A 32-bit avalanche hash (the 'lowbias32' finaliser) on int64 tensors holding uint32s."""
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))
    h = tf.bitwise.bitwise_and(h * 0x7FEB352D, _MASK32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 15))
    h = tf.bitwise.bitwise_and(h * 0x846CA68B, _MASK32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))
    return h


def _combine(h, value):
    value = tf.bitwise.bitwise_and(tf.cast(value, tf.int64), _MASK32)
    return _mix32(tf.bitwise.bitwise_xor(h, value) + 0x9E3779B9 & _MASK32)


def random_bits(keys, shape, seed=0, counter=0, stream=0):
    """Uniform 32-bit integers (as int64) of shape ``[batch, *shape]``, one row per key.

    Args:
      keys: int tensor ``[batch]``, one key per example (its index in the data set).
      shape: the per-example shape (a Python list or a 1-D int tensor).
      seed: the run's seed (int or scalar tensor).
      counter: changes every call that must draw afresh, e.g. the training step (scalar).
      stream: which kind of draw this is (one of the ``STREAM_*`` constants).
    """
    keys = tf.cast(tf.reshape(keys, [-1]), tf.int64)
    h = _mix32(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), _MASK32) + 0x1234567)
    h = _combine(h, tf.cast(counter, tf.int64))
    h = _combine(h, tf.bitwise.right_shift(tf.cast(counter, tf.int64), 32))
    h = _combine(h, stream)
    h = _combine(h + tf.zeros_like(keys), keys)  # [batch]
    h = _combine(h, tf.bitwise.right_shift(keys, 32))
    shape = tf.cast(shape, tf.int64)
    positions = tf.reshape(tf.range(tf.reduce_prod(shape), dtype=tf.int64), shape)
    rank = tf.size(shape)
    h = tf.reshape(h, tf.concat([[-1], tf.ones([rank], tf.int64)], 0))
    return _combine(h, positions[tf.newaxis])


def uniform(keys, shape, seed=0, counter=0, stream=0, minval=0.0, maxval=1.0, dtype=tf.float32):
    """Uniform floats in ``[minval, maxval)`` of shape ``[batch, *shape]``."""
    bits = random_bits(keys, shape, seed, counter, stream)
    unit = tf.cast(tf.bitwise.right_shift(bits, 8), tf.float64) / float(1 << 24)
    return tf.cast(minval + (maxval - minval) * unit, dtype)


def normal(keys, shape, seed=0, counter=0, stream=0, dtype=tf.float32):
    """Standard normal floats of shape ``[batch, *shape]`` (Box-Muller on two keyed uniforms)."""
    u1 = uniform(keys, shape, seed, counter, 2 * stream + 1001, dtype=tf.float32)
    u2 = uniform(keys, shape, seed, counter, 2 * stream + 1002, dtype=tf.float32)
    radius = tf.sqrt(-2.0 * tf.math.log(1.0 - u1))  # 1 - u1 is in (0, 1]
    return tf.cast(radius * tf.cos(2.0 * 3.141592653589793 * u2), dtype)


def integers(keys, shape, maxval, seed=0, counter=0, stream=0):
    """Integers in ``[0, maxval)`` (int32) of shape ``[batch, *shape]``; ``maxval`` may be ``[batch]``."""
    bits = random_bits(keys, shape, seed, counter, stream)
    maxval = tf.cast(maxval, tf.int64)
    maxval = tf.reshape(maxval, tf.concat([tf.shape(maxval, out_type=tf.int64),
                                           tf.ones([tf.rank(bits) - tf.rank(maxval)], tf.int64)], 0))
    return tf.cast(tf.math.floormod(bits, tf.maximum(maxval, 1)), tf.int32)


def scalar_uniform(seed=0, counter=0, stream=0):
    """One uniform float in [0, 1) shared by the whole global batch (e.g. a per-batch choice)."""
    return uniform(tf.zeros([1], tf.int64), [], seed, counter, stream)[0]
