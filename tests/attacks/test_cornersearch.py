"""CornerSearch: invariants, the one-pixel step, the reference's sparsity levels, keyed draws and
compaction that changes nothing."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks.cornersearch import cornersearch

CLASSES = 4



@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 3), height=st.integers(1, 4), width=st.integers(1, 4),
       channels=st.sampled_from([1, 3]), eps=st.integers(0, 6), queries=st.integers(0, 25),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
def test_output_is_a_sparse_image_of_corner_colours(mlp, predicted_batch, assert_sparse_image,
                                                    batch, height, width, channels, eps, queries,
                                                    dtype, seed):
    shape = (height, width, channels)
    model_fn = mlp(shape, CLASSES, seed)
    images, labels = predicted_batch(model_fn, shape, batch, seed)
    images = images.astype(dtype)
    result = cornersearch(model_fn, images, labels, eps=eps, queries=queries, n_max=10, seed=seed)
    adversarial = result.adversarial.numpy()
    assert result.adversarial.dtype == tf.as_dtype(dtype)
    # The reference tries 1 pixel, then 2 .. eps - 1 pixels (its range(2, k)).
    assert_sparse_image(adversarial, images, max(eps - 1, 1) if eps else 0)
    changed = np.any(adversarial != images, axis=-1)
    assert np.all(np.isin(adversarial[changed], [0.0, 1.0]))
    fooled = np.argmax(model_fn(adversarial).numpy(), axis=-1) != labels
    np.testing.assert_array_equal(result.is_adversarial.numpy(), fooled)
    np.testing.assert_array_equal(adversarial[~fooled], images[~fooled])


def _white_pixel_model(batch):
    """Class 1 as soon as one pixel is white, else class 0."""
    whitest = tf.reduce_max(tf.reduce_min(batch, axis=-1), axis=[1, 2])
    return tf.stack([tf.fill(tf.shape(whitest), 0.5), whitest], axis=-1)


def test_the_one_pixel_step_finds_a_single_white_pixel():
    images = np.random.default_rng(0).uniform(0.1, 0.4, size=(3, 5, 5, 3)).astype(np.float32)
    result = cornersearch(_white_pixel_model, images, np.zeros(3, np.int32), eps=4, queries=10)
    adversarial = result.adversarial.numpy()
    assert np.all(result.is_adversarial.numpy())
    changed = np.any(adversarial != images, axis=-1)
    assert np.all(changed.reshape(3, -1).sum(axis=1) == 1)
    np.testing.assert_array_equal(adversarial[changed], 1.0)
    assert changed[:, 0, 0].all()  # the first fooling perturbation in the reference's order


@pytest.mark.parametrize("compiled", [False, True])
def test_compaction_and_batch_splits_change_nothing(mlp, predicted_batch, compiled):
    shape = (6, 6, 3)
    model_fn = mlp(shape, CLASSES, seed=3)
    images, labels = predicted_batch(model_fn, shape, 16, seed=3)
    keys = np.arange(50, 66)

    def run(x, y, k, compact):
        return cornersearch(model_fn, x, y, eps=3, queries=40, n_max=20, keys=k, seed=1,
                            compact=compact)

    attack = tf.function(run, reduce_retracing=True) if compiled else run
    full = attack(images, labels, keys, False)
    compacted = attack(images, labels, keys, True)
    half = attack(images[8:], labels[8:], keys[8:], True)
    fooled = full.is_adversarial.numpy()
    assert 0.2 * len(fooled) < fooled.sum() < len(fooled)
    for one, other in zip(full, compacted):
        np.testing.assert_array_equal(one.numpy(), other.numpy())
    np.testing.assert_array_equal(half.adversarial.numpy(), full.adversarial.numpy()[8:])


def test_the_old_n_iter_keyword_still_works_and_warns():
    images = np.full((2, 3, 3, 1), 0.5, np.float32)
    new = cornersearch(_white_pixel_model, images, np.zeros(2, np.int32), eps=3, queries=5)
    with pytest.warns(DeprecationWarning, match="cornersearch\\(n_iter=...\\) is deprecated: "
                      "use queries="):
        old = cornersearch(_white_pixel_model, images, np.zeros(2, np.int32), eps=3, n_iter=5)
    np.testing.assert_array_equal(old.adversarial.numpy(), new.adversarial.numpy())
