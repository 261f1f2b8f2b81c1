"""GradAlign's regulariser against numpy, its random sparse point, and its double backprop."""

import keras
import numpy as np
import tensorflow as tf

from tf_fastls0.losses import grad_align


def test_misalignment_is_the_mean_of_one_minus_cosine_over_nonzero_examples():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    second = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    second[2] = 0.0  # an example with a zero gradient is left out, as the reference does
    a, b = first.reshape(4, -1), second.reshape(4, -1)
    cosine = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30)
    expected = np.mean((1.0 - cosine)[[0, 1, 3]])
    np.testing.assert_allclose(grad_align.misalignment_share(first, second), expected, rtol=1e-5)
    np.testing.assert_allclose(grad_align.misalignment_share(first, 3.0 * first), 0.0, atol=1e-6)


def test_random_sparse_point_changes_exactly_eps_pixels_within_the_box():
    images = tf.fill([3, 8, 8, 3], 0.5)
    point = grad_align.random_sparse_point(images, 5, tf.constant([0, 1, 2]), seed=1, counter=2)
    changed = np.any(np.abs(point.numpy() - 0.5) > 0, axis=-1).sum(axis=(1, 2))
    np.testing.assert_array_equal(changed, [5, 5, 5])
    assert 0.0 <= point.numpy().min() and point.numpy().max() <= 1.0
    again = grad_align.random_sparse_point(images, 5, tf.constant([0, 1, 2]), seed=1, counter=2)
    np.testing.assert_array_equal(point, again)  # keyed: the same draw on a resumed run


def test_the_regulariser_trains_the_weights_through_the_second_gradient():
    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(),
                                keras.layers.Dense(8, activation="softplus"), keras.layers.Dense(3)])
    images = tf.random.uniform([6, 4, 4, 3], seed=1)
    labels = tf.constant([0, 1, 2, 0, 1, 2])
    with tf.GradientTape() as tape:
        value = grad_align.gradient_misalignment(network, images, labels, 3, tf.range(6))
    gradients = tape.gradient(value, network.trainable_variables)
    assert 0.0 < float(value) < 2.0
    assert all(g is not None for g in gradients)
    assert max(float(tf.reduce_max(tf.abs(g))) for g in gradients) > 0.0
