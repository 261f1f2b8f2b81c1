"""SAIF: invariants, per-image stopping, keyed draws, and compaction that changes nothing."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks.saif import saif

CLASSES = 4



@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 4), height=st.integers(1, 6), width=st.integers(1, 6),
       channels=st.sampled_from([1, 3]), eps=st.integers(0, 10), steps=st.integers(0, 6),
       dtype=st.sampled_from([np.float32, np.float64, np.float16]), seed=st.integers(0, 99))
def test_output_is_a_sparse_image(mlp, predicted_batch, assert_sparse_image, batch, height,
                                  width, channels, eps, steps, dtype, seed):
    shape = (height, width, channels)
    model_fn = mlp(shape, CLASSES, seed)
    images, labels = predicted_batch(model_fn, shape, batch, seed)
    images = images.astype(dtype)
    result = saif(model_fn, images, labels, eps=eps, iterations=steps, seed=seed)
    adversarial = result.adversarial.numpy()
    assert result.adversarial.dtype == tf.as_dtype(dtype)
    assert_sparse_image(adversarial, images, eps)
    fooled = np.argmax(model_fn(adversarial).numpy(), axis=-1) != labels
    np.testing.assert_array_equal(result.is_adversarial.numpy(), fooled)


def test_clean_mistakes_come_back_unchanged_and_fooled_images_stay_fooled(mlp, predicted_batch):
    shape = (6, 6, 3)
    model_fn = mlp(shape, CLASSES, seed=4)
    images, labels = predicted_batch(model_fn, shape, 16, seed=4)
    labels[:2] = (labels[:2] + 1) % CLASSES
    short = saif(model_fn, images, labels, eps=3, iterations=5, seed=1)
    long = saif(model_fn, images, labels, eps=3, iterations=40, seed=1)
    np.testing.assert_array_equal(long.adversarial.numpy()[:2], images[:2])
    fooled = short.is_adversarial.numpy()
    assert 2 < fooled.sum() < long.is_adversarial.numpy().sum() < 16  # informative
    assert np.all(long.is_adversarial.numpy()[fooled])  # a success is kept, never undone
    np.testing.assert_array_equal(long.adversarial.numpy()[fooled],
                                  short.adversarial.numpy()[fooled])


@pytest.mark.parametrize("compiled", [False, True])
def test_compaction_and_batch_splits_change_nothing(mlp, predicted_batch, compiled):
    shape = (6, 6, 3)
    model_fn = mlp(shape, CLASSES, seed=5)
    images, labels = predicted_batch(model_fn, shape, 24, seed=5)
    keys = np.arange(100, 124)

    def run(x, y, k, compact):
        return saif(model_fn, x, y, eps=3, iterations=30, keys=k, seed=2, compact=compact)

    attack = tf.function(run, reduce_retracing=True) if compiled else run
    full = attack(images, labels, keys, False)
    compacted = attack(images, labels, keys, True)
    half = attack(images[8:], labels[8:], keys[8:], True)
    fooled = full.is_adversarial.numpy()
    assert 0.3 * len(fooled) < fooled.sum() < len(fooled)
    for one, other in zip(full, compacted):
        np.testing.assert_array_equal(one.numpy(), other.numpy())
    np.testing.assert_array_equal(half.adversarial.numpy(), full.adversarial.numpy()[8:])
