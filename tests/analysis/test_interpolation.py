"""Interpolation accuracy on a model whose decision boundary is known by hand."""

import numpy as np
import tensorflow as tf

from tf_fastls0.analysis import interpolation


def brightness_model(images):
    """Class 0 when the mean pixel exceeds 0.5, else class 1."""
    mean = tf.reduce_mean(images, axis=[1, 2, 3])
    return tf.stack([mean - 0.5, 0.5 - mean], axis=1)


def test_accuracy_along_the_segment():
    images = np.full((4, 3, 3, 1), 0.75, np.float32)
    labels = np.zeros(4, np.int32)
    deltas = np.zeros_like(images)
    deltas[:2] = -0.6  # the mean crosses 0.5 at a = 0.25 / 0.6 ~ 0.417
    result = interpolation.interpolation_accuracy(brightness_model, images, labels, deltas, batch_size=3)
    assert list(result) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    expected = {a: 1.0 if a < 0.417 else 0.5 for a in result}
    assert result == expected
    assert result[0.0] == interpolation.accuracy(brightness_model, images, labels)
    assert result[1.0] == interpolation.accuracy(brightness_model, images + deltas, labels)
