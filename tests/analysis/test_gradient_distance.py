"""Gradient distance against numpy's per-example gradients of softmax regression."""

import keras
import numpy as np

from tf_fastls0.analysis import gradient_distance


def numpy_gradient(model, image, label):
    """dCE/d(W, b) for logits W^T x + b: outer(x, p - onehot) and p - onehot, flattened."""
    kernel, bias = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    x = image.reshape(-1).astype(np.float64)
    logits = x @ kernel + bias
    p = np.exp(logits - logits.max())
    p /= p.sum()
    p[label] -= 1.0
    return np.concatenate([np.outer(x, p).ravel(), p])


def test_distance_matches_numpy_and_vanishes_for_identical_deltas():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Flatten(), keras.layers.Dense(3)])
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(5, 3, 3, 2)).astype(np.float32)
    labels = rng.integers(0, 3, 5).astype(np.int32)
    first = (rng.uniform(size=images.shape) - images).astype(np.float32)
    second = (rng.uniform(size=images.shape) - images).astype(np.float32)
    got = gradient_distance.per_example_gradient_distances(model, images, labels, first, second, batch_size=2)
    expected = [np.linalg.norm(numpy_gradient(model, x + d1, y) - numpy_gradient(model, x + d2, y))
                for x, y, d1, d2 in zip(images, labels, first, second)]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    np.testing.assert_allclose(gradient_distance.gradient_distance(model, images, labels, first, second),
                               np.mean(expected), rtol=1e-4)
    assert gradient_distance.gradient_distance(model, images, labels, first, first) == 0.0
