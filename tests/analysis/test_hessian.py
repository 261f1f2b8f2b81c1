"""Hessian power iteration against the exact Hessian of softmax regression (numpy, by hand).

For logits ``W^T x + b`` and mean CE, the Hessian w.r.t. (W, b) flattened row-major with b as an
extra input row is ``mean_n kron(x~_n x~_n^T, diag(p_n) - p_n p_n^T)``, ``x~ = [x, 1]``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.analysis import hessian
from tf_fastls0.analysis import loss_parts


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(2)
    images = (rng.normal(size=(12, 4)) * [3.0, 1.5, 0.8, 0.4]).astype(np.float32)
    labels = rng.integers(0, 3, 12).astype(np.int32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.layers[0].kernel.assign(rng.normal(size=(4, 3)).astype(np.float32) * 0.5)
    return model, images, labels


def exact_hessian(model, images):
    kernel, bias = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    logits = images @ kernel + bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    inputs = np.concatenate([images, np.ones((len(images), 1))], 1)
    return np.mean([np.kron(np.outer(x, x), np.diag(q) - np.outer(q, q)) for x, q in zip(inputs, p)], 0)


def flat(vector):
    return np.concatenate([t.numpy().ravel() for t in vector])


def test_hessian_vector_product_is_exact_and_parts_add_up(problem):
    model, images, labels = problem
    h = exact_hessian(model, images)
    vector = hessian.random_unit_vector(model.trainable_variables, seed=4)
    for batch_size in (12, 5):  # one part, or parts of 5, 5 and 2 examples
        parts = loss_parts.fixed_input_losses(images, labels, batch_size=batch_size)
        product = hessian.hessian_vector_product_fn(model, parts)(vector)
        np.testing.assert_allclose(flat(product), h @ flat(vector), rtol=1e-4, atol=1e-6)


def test_deflated_power_iteration_finds_top_eigenpairs_in_order(problem):
    model, images, labels = problem
    values, vectors = np.linalg.eigh(exact_hessian(model, images))
    order = np.argsort(-np.abs(values))
    values, vectors = values[order], vectors[:, order]
    assert np.all(values[:4] / values[1:5] > 1.3)  # gaps wide enough for power iteration
    pairs = hessian.top_eigenpairs(model, loss_parts.fixed_input_losses(images, labels, batch_size=5),
                                   k=4, max_iterations=1000, tolerance=1e-7, seed=1)
    np.testing.assert_allclose(pairs.values, values[:4], rtol=1e-4)
    for index, found in enumerate(pairs.vectors):
        assert abs(flat(found) @ vectors[:, index]) > 0.999
        np.testing.assert_allclose(np.linalg.norm(flat(found)), 1.0, rtol=1e-5)
    assert np.all(pairs.iterations < 1000)


def test_iteration_cap_is_respected(problem):
    model, images, labels = problem
    pairs = hessian.top_eigenpairs(model, lambda m: tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels, m(images, training=False))),
        k=2, max_iterations=3, tolerance=0.0)
    np.testing.assert_array_equal(pairs.iterations, [3, 3])
    assert len(pairs.vectors) == 2
