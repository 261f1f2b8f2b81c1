"""Helpers every attack uses to hand its result back in the caller's terms."""

import tensorflow as tf


def in_input_dtype(images, x, adversarial):
    """``adversarial`` (float32, computed from ``x = float32(images)``) in ``images``' dtype.

    Unchanged positions take their values from ``images`` itself, so a float64 (or float16) input
    comes back exactly equal outside the perturbed pixels, whatever the round trip through float32.
    """
    if images.dtype == tf.float32:
        return adversarial
    changed = tf.reduce_any(tf.not_equal(adversarial, x), axis=-1, keepdims=True)
    return tf.where(changed, tf.cast(adversarial, images.dtype), images)


def expand_like(flags, tensor):
    """``flags`` ``[B]`` reshaped to broadcast against ``tensor`` ``[B, ...]``."""
    return tf.reshape(flags, tf.concat([[-1], tf.ones([tf.rank(tensor) - 1], tf.int32)], 0))
