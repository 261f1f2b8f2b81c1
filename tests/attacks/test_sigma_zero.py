"""sigma-zero: invariants, minimal pixel counts that match the returned images, the cascade's
budget, and a robust-accuracy curve that never rises with k."""

import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import NOT_FOUND, STAGE_CODES, SURVIVED, sparse_autoattack
from tf_fastls0.attacks.sigma_zero import sigma_zero
from tf_fastls0.evaluation.robust_curve import robust_acc_by_k

CLASSES = 4



@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 4), height=st.integers(1, 6), width=st.integers(1, 6),
       channels=st.sampled_from([1, 3]), steps=st.integers(0, 12),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
def test_returned_images_match_their_pixel_counts(mlp, predicted_batch, assert_sparse_image,
                                                  batch, height, width, channels, steps, dtype,
                                                  seed):
    shape = (height, width, channels)
    model_fn = mlp(shape, CLASSES, seed)
    images, labels = predicted_batch(model_fn, shape, batch, seed)
    labels[0] = (labels[0] + 1) % CLASSES  # a clean mistake: returned as is, 0 pixels
    images = images.astype(dtype)
    result = sigma_zero(model_fn, images, labels, iterations=steps)
    adversarial = result.adversarial.numpy()
    assert result.adversarial.dtype == tf.as_dtype(dtype)
    assert_sparse_image(adversarial, images, height * width)
    pixels = result.pixels.numpy()
    fooled = np.argmax(model_fn(adversarial).numpy(), axis=-1) != labels
    np.testing.assert_array_equal(result.is_adversarial.numpy(), fooled)
    changed = np.any(adversarial != images, axis=-1).reshape(batch, -1).sum(axis=1)
    np.testing.assert_array_equal(pixels[fooled], changed[fooled])  # fooled with exactly k
    np.testing.assert_array_equal(pixels[~fooled], NOT_FOUND)
    np.testing.assert_array_equal(adversarial[~fooled], images[~fooled])
    assert pixels[0] == 0


def test_the_cascade_breaks_within_the_budget_and_keeps_every_minimum(mlp, predicted_batch):
    shape = (6, 6, 3)
    model_fn = mlp(shape, CLASSES, seed=3)
    images, labels = predicted_batch(model_fn, shape, 24, seed=3)
    eps = 3
    result = sparse_autoattack(model_fn, images, labels, eps=eps, iterations=100,
                               attacks="sigma_zero")
    counts, broken = result.min_pixels, result.broken_by == STAGE_CODES["sigma_zero"]
    assert np.any(counts > eps) and np.any((counts >= 1) & (counts <= eps))  # informative
    np.testing.assert_array_equal(broken, (counts >= 0) & (counts <= eps))
    np.testing.assert_array_equal(result.broken_by[~broken], SURVIVED)
    changed = np.any(result.adversarial != images, axis=-1).reshape(len(images), -1).sum(axis=1)
    np.testing.assert_array_equal(changed[broken], counts[broken])
    np.testing.assert_array_equal(changed[~broken], 0)
    curve = robust_acc_by_k(counts)
    assert curve[str(eps)] == 100.0 * np.mean(~broken)


def test_robust_accuracy_never_rises_with_k():
    counts = np.array([0, 3, 1, NOT_FOUND, 7, 3, 2])  # a clean mistake, five minima, one unfooled
    curve = robust_acc_by_k(counts)
    assert list(curve) == [str(k) for k in range(8)]
    values = np.array(list(curve.values()))
    assert np.all(np.diff(values) <= 0)
    np.testing.assert_allclose(values[[0, 1, 3, 7]], 100 * np.array([6, 5, 2, 1]) / 7)
