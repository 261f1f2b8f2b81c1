"""Vectors in weight space: lists of tensors shaped like a model's trainable variables."""

import tensorflow as tf


def dot(a, b):
    """Inner product of two weight vectors (float32 scalar)."""
    return tf.add_n([tf.reduce_sum(x * y) for x, y in zip(a, b)])


def norm(a):
    return tf.sqrt(dot(a, a))


def add_scaled(a, b, scale):
    """``a + scale * b``."""
    return [x + scale * y for x, y in zip(a, b)]


def normalised(a):
    """``a / ||a||`` (unchanged if zero)."""
    length = norm(a)
    return [tf.math.divide_no_nan(x, length) for x in a]


def orthogonalised(a, basis):
    """``a`` minus its projections on an orthonormal ``basis`` (a list of weight vectors)."""
    for direction in basis:
        a = add_scaled(a, direction, -dot(a, direction))
    return a


def values_of(variables):
    """A copy of the variables' current values."""
    return [tf.identity(v) for v in variables]


def assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)
