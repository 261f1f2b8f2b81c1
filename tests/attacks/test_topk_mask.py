"""The top-k mask and the sPGD custom gradient (SPEC §2.2-2.3) against numpy."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks.topk_mask import sparse_perturbation, topk_mask


def numpy_topk_mask(scores, k):
    batch, height, width, _ = scores.shape
    flat = scores.reshape(batch, -1)
    mask = np.zeros_like(flat)
    for row, order in zip(mask, np.argsort(-flat, axis=1, kind="stable")):
        row[order[:k]] = 1.0
    return mask.reshape(batch, height, width, 1)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 3), height=st.integers(1, 6), width=st.integers(1, 6),
       k=st.integers(0, 40), seed=st.integers(0, 1000))
def test_topk_mask_marks_the_k_largest_per_image(batch, height, width, k, seed):
    scores = np.random.default_rng(seed).normal(size=(batch, height, width, 1)).astype(np.float32)
    mask = topk_mask(tf.constant(scores), k).numpy()
    np.testing.assert_array_equal(mask, numpy_topk_mask(scores, min(k, height * width)))


def test_topk_mask_count_is_exact_under_ties():
    saturated = tf.sigmoid(tf.fill([2, 4, 4, 1], 40.0))  # every entry is exactly 1.0
    mask = topk_mask(saturated, 5).numpy()
    np.testing.assert_array_equal(mask.sum(axis=(1, 2, 3)), [5, 5])


def _example(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(2, 3, 4, 2)).astype(np.float32)
    p = rng.uniform(-1, 1, size=x.shape).astype(np.float32)
    m = rng.normal(size=(2, 3, 4, 1)).astype(np.float32)
    weights = rng.normal(size=x.shape).astype(np.float32)
    return x, p, m, weights


def _gradients(x, p, m, weights, k, projected):
    """Loss ``sum(w * out**2)`` so the upstream gradient ``g = 2 w out`` varies per element."""
    tensors = [tf.constant(t) for t in (x, p, m)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = sparse_perturbation(*tensors, k, projected)
        loss = tf.reduce_sum(weights * out ** 2)
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, tensors)]


@pytest.mark.parametrize("projected", [False, True, tf.constant(False), tf.constant(True)])
def test_custom_gradient_matches_spec_formulas(projected):
    x, p, m, weights = _example()
    k = 5
    soft = 1.0 / (1.0 + np.exp(-m))
    mask = numpy_topk_mask(soft, k)
    expected_out = x + p * mask
    g = 2.0 * weights * expected_out
    is_projected = bool(projected.numpy()) if isinstance(projected, tf.Tensor) else projected
    expected_dp = g * (mask if is_projected else soft)
    expected_dm = np.sum(g * p, axis=-1, keepdims=True) * soft * (1.0 - soft)

    out, (dx, dp, dm) = _gradients(x, p, m, weights, k, projected)
    np.testing.assert_allclose(out, expected_out, rtol=1e-6)
    np.testing.assert_allclose(dx, g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dp, expected_dp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dm, expected_dm, rtol=1e-5, atol=1e-6)


def test_variant_tensor_works_inside_tf_function():
    x, p, m, weights = _example(seed=1)

    @tf.function
    def magnitude_gradient(projected):
        magnitude = tf.constant(p)
        with tf.GradientTape() as tape:
            tape.watch(magnitude)
            out = sparse_perturbation(tf.constant(x), magnitude, tf.constant(m), 3, projected)
            loss = tf.reduce_sum(weights * out)
        return tape.gradient(loss, magnitude)

    soft = 1.0 / (1.0 + np.exp(-m))
    np.testing.assert_allclose(magnitude_gradient(tf.constant(True)).numpy(),
                               weights * numpy_topk_mask(soft, 3), rtol=1e-6)
    np.testing.assert_allclose(magnitude_gradient(tf.constant(False)).numpy(), weights * soft,
                               rtol=1e-6)
