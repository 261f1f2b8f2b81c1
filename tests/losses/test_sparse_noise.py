"""N-FGSM sparse noise (SPEC section 5): budget, box, distinct positions, uniform count, keying."""

import hypothesis
import numpy as np
import tensorflow as tf
from hypothesis import strategies as st

from tf_fastls0.losses import sparse_noise


def changed_pixels(before, after):
    return np.any(np.asarray(before) != np.asarray(after), axis=-1)


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(eps=st.integers(0, 12), size=st.integers(4, 12), channels=st.sampled_from([1, 3]),
                  seed=st.integers(0, 2**31 - 1), counter=st.integers(0, 2**40), saturated=st.booleans())
def test_noise_respects_budget_and_box(eps, size, channels, seed, counter, saturated):
    batch = 6
    images = np.random.default_rng(seed).uniform(size=(batch, size, size, channels))
    if saturated:  # pixels at the box's faces, where clipping matters
        images = np.round(images)
    images = images.astype(np.float32)
    keys = tf.range(batch) * 7 + 3
    noisy = sparse_noise.sparse_noise(images, eps, keys, seed, counter)
    mask = sparse_noise.noise_mask(images.shape, eps, keys, seed, counter).numpy()
    assert noisy.shape == images.shape and noisy.dtype == tf.float32
    assert np.all(noisy.numpy() >= 0.0) and np.all(noisy.numpy() <= 1.0)
    changed = changed_pixels(images, noisy)
    assert np.all(mask.sum((1, 2)) <= min(2 * eps, size * size))
    assert not np.any(changed & ~mask)  # only masked pixels move
    assert np.all(np.abs(noisy.numpy() - images) < 1.0)  # U(-1, 1), then clipped


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(eps=st.integers(0, 15), seed=st.integers(0, 2**31 - 1), counter=st.integers(0, 2**40))
def test_mask_count_takes_every_value_from_zero_to_two_eps(eps, seed, counter):
    batch = 60 * (2 * eps + 1)  # a value is missed with probability below 31 * exp(-60)
    mask = sparse_noise.noise_mask([batch, 6, 6, 1], eps, tf.range(batch), seed, counter)
    counts = mask.numpy().sum((1, 2))
    np.testing.assert_array_equal(np.unique(counts), np.arange(2 * eps + 1))


def test_mask_count_is_uniform_over_zero_to_two_eps():
    eps, keys = 2, tf.range(1000)
    counts = sparse_noise.noise_mask([1000, 8, 8, 3], eps, keys, seed=5, counter=11).numpy().sum((1, 2))
    frequencies = np.bincount(counts, minlength=2 * eps + 1)
    assert len(frequencies) == 2 * eps + 1  # never more than 2 * eps
    # Expected 200 per value, binomial sd ~ 12.6: 140..260 is a five-sigma band.
    assert np.all((frequencies > 140) & (frequencies < 260)), frequencies


def test_every_masked_pixel_changes_on_a_mid_grey_image():
    images = tf.fill([50, 6, 6, 3], 0.5)
    keys = tf.range(50)
    noisy = sparse_noise.sparse_noise(images, 4, keys, seed=1, counter=2)
    mask = sparse_noise.noise_mask(images.shape, 4, keys, seed=1, counter=2).numpy()
    np.testing.assert_array_equal(changed_pixels(images, noisy), mask)
    assert len(np.unique(mask.sum((1, 2)))) > 1


def test_noise_depends_on_keys_not_on_batch_split():
    images = tf.random.stateless_uniform([8, 8, 8, 3], seed=[1, 2])
    keys = tf.constant([10, 11, 12, 13, 14, 15, 16, 17])
    whole = sparse_noise.sparse_noise(images, 5, keys, seed=9, counter=4)
    halves = tf.concat([sparse_noise.sparse_noise(images[:3], 5, keys[:3], seed=9, counter=4),
                        sparse_noise.sparse_noise(images[3:], 5, keys[3:], seed=9, counter=4)], 0)
    np.testing.assert_array_equal(whole, halves)
    other_step = sparse_noise.sparse_noise(images, 5, keys, seed=9, counter=5)
    assert not np.array_equal(whole, other_step)


def test_runs_inside_tf_function_with_unknown_batch():
    fn = tf.function(lambda x, k: sparse_noise.sparse_noise(x, 3, k, 0, 1),
                     input_signature=[tf.TensorSpec([None, 8, 8, 3]), tf.TensorSpec([None], tf.int32)])
    images = tf.fill([4, 8, 8, 3], 0.5)
    eager = sparse_noise.sparse_noise(images, 3, tf.range(4), 0, 1)
    np.testing.assert_array_equal(fn(images, tf.range(4)), eager)
