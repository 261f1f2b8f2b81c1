"""Sparse-RS (SPEC §3): invariants, the p(it) schedule, acceptance and per-image stopping."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import sparse_rs
from tf_fastls0.attacks.sparse_rs import (SCHEDULE_BOUNDARIES, SCHEDULE_BUDGET, SCHEDULE_DIVISORS,
                                           _schedule)

CLASSES = 4


def _batch(shape, batch, seed):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(batch, *shape)).astype(np.float32)
    labels = rng.integers(0, CLASSES, size=batch).astype(np.int32)
    return images, labels


def _cross_entropy(logits, labels):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 4), height=st.integers(1, 7), width=st.integers(1, 7),
       channels=st.sampled_from([1, 3]), eps=st.integers(0, 12), queries=st.integers(0, 30),
       dtype=st.sampled_from([np.float32, np.float64, np.float16]), seed=st.integers(0, 99))
def test_output_is_a_sparse_image(mlp, assert_sparse_image, batch, height, width, channels, eps,
                                  queries, dtype, seed):
    shape = (height, width, channels)
    images, labels = _batch(shape, batch, seed)
    images = images.astype(dtype)
    model_fn = mlp(shape, CLASSES, seed)
    result = sparse_rs(model_fn, images, labels, eps=eps, queries=queries, seed=seed)
    adversarial = result.adversarial.numpy()
    assert_sparse_image(adversarial, images, eps)
    assert result.adversarial.dtype == tf.as_dtype(dtype)
    changed = np.any(adversarial != images, axis=-1)
    assert np.all(np.isin(adversarial[changed], [0.0, 1.0]))  # corners of the colour cube
    logits = model_fn(adversarial).numpy()
    np.testing.assert_array_equal(result.is_adversarial.numpy(), logits.argmax(-1) != labels)
    np.testing.assert_allclose(result.loss.numpy(), _cross_entropy(logits, labels), rtol=1e-3,
                               atol=1e-3)
    assert np.all(result.queries.numpy() <= queries)


@pytest.mark.parametrize("eps, queries", [(0, 20), (3, 0)])
def test_zero_budget_returns_the_input(mlp, eps, queries):
    images, labels = _batch((5, 5, 3), 3, seed=4)
    result = sparse_rs(mlp((5, 5, 3)), images, labels, eps=eps, queries=queries)
    np.testing.assert_array_equal(result.adversarial.numpy(), images)


def resampled_count(it, eps, queries, p_init=0.8):
    """``n(it)`` of SPEC §3 in plain Python: the oracle the graph schedule is checked against."""
    scaled = it * SCHEDULE_BUDGET // queries
    divisor = SCHEDULE_DIVISORS[sum(scaled > b for b in SCHEDULE_BOUNDARIES)]
    return min(max(int(p_init / divisor * eps), 1), eps)


def test_schedule_follows_the_spec_table():
    # eps = 20, p_init = 0.8 on 10,000 queries: n = floor(0.8 / d * 20), at least 1.
    expected = {1: 8, 50: 8, 51: 4, 200: 4, 201: 3, 500: 3, 501: 2, 1000: 2, 1001: 2, 2000: 2,
                2001: 1, 9999: 1}
    for it, n in expected.items():
        assert resampled_count(it, 20, 10_000) == n
    # eps = 100: 40, 20, 16, 13, 10, 8, 6, 5, 4 on the intervals.
    for it, n in {50: 40, 200: 20, 500: 16, 1000: 13, 2000: 10, 4000: 8, 6000: 6, 8000: 5,
                  8001: 4}.items():
        assert resampled_count(it, 100, 10_000) == n
    # Another budget is rescaled to 10,000: with 1,000 queries, it 5 is it 50 and it 6 is it 60.
    assert resampled_count(5, 100, 1_000) == 40 and resampled_count(6, 100, 1_000) == 20


@pytest.mark.parametrize("eps, queries", [(20, 10_000), (7, 300), (1, 50)])
def test_graph_schedule_equals_the_reference(eps, queries):
    graph = _schedule(eps, queries, 0.8)
    its = np.arange(1, queries)
    counts = tf.function(lambda its: tf.map_fn(graph, its, fn_output_signature=tf.int32))(its)
    np.testing.assert_array_equal(counts.numpy(), [resampled_count(it, eps, queries) for it in its])


def test_fooled_images_stop_and_clean_mistakes_are_untouched(mlp):
    images, _ = _batch((6, 6, 3), 8, seed=1)
    model_fn = mlp((6, 6, 3), CLASSES, seed=1)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    labels[:2] = (labels[:2] + 1) % CLASSES
    result = sparse_rs(model_fn, images, labels, eps=1, queries=50)
    fooled = result.is_adversarial.numpy()
    queries = result.queries.numpy()
    np.testing.assert_array_equal(result.adversarial.numpy()[:2], images[:2])
    np.testing.assert_array_equal(queries[:2], [0, 0])
    assert fooled[2:].any() and not fooled[2:].all()  # informative case: some resist 50 queries
    assert np.all(queries[2:][~fooled[2:]] == 50)
    assert np.all(queries[2:][fooled[2:]] < 50)


def test_more_queries_extend_fewer(mlp):
    images, _ = _batch((6, 6, 3), 8, seed=2)
    model_fn = mlp((6, 6, 3), CLASSES, seed=2)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    short = sparse_rs(model_fn, images, labels, eps=3, queries=20)
    long = sparse_rs(model_fn, images, labels, eps=3, queries=100)
    fooled = short.is_adversarial.numpy()
    assert np.all(long.is_adversarial.numpy()[fooled])
    np.testing.assert_array_equal(long.adversarial.numpy()[fooled],
                                  short.adversarial.numpy()[fooled])
    assert np.all(long.loss.numpy()[~fooled] >= short.loss.numpy()[~fooled])


def test_randomness_is_keyed_per_example(mlp):
    images, labels = _batch((5, 5, 3), 6, seed=3)
    model_fn = mlp((5, 5, 3), CLASSES, seed=3)
    keys = np.arange(100, 106)
    whole = sparse_rs(model_fn, images, labels, eps=2, queries=30, keys=keys)
    half = sparse_rs(model_fn, images[2:], labels[2:], eps=2, queries=30, keys=keys[2:])
    np.testing.assert_array_equal(half.adversarial.numpy(), whole.adversarial.numpy()[2:])


@pytest.mark.parametrize("channels", [1, 3])
def test_a_single_pixel_query_always_changes_its_pixel(channels):
    # The reference redraws a 1-pixel update's colour until it differs from the pixel's own. On
    # black-and-white images a free draw would repeat the clean colour (1 in 2**C): over 40
    # queries the candidate would then equal the clean image.
    rng = np.random.default_rng(channels)
    images = rng.integers(0, 2, size=(3, 4, 4, channels)).astype(np.float32)
    candidates = []

    def blind(batch):  # never fooled, so every query is spent; records what it is shown
        candidates.append(np.asarray(batch))
        return tf.zeros([tf.shape(batch)[0], 2]) + tf.constant([1.0, 0.0])

    sparse_rs(blind, images, np.zeros(3, np.int32), eps=1, queries=40, compact=False)
    queried = np.stack(candidates[2:])  # after the clean pass and the random start
    changed = np.any(queried != images, axis=-1).reshape(len(queried), 3, -1).sum(-1)
    np.testing.assert_array_equal(changed, 1)


def _tie_model(batch):
    """Logits (1, brightest pixel): a black image is class 0; one white pixel makes a tie."""
    brightest = tf.reduce_max(tf.reshape(batch, [tf.shape(batch)[0], -1]), axis=-1)
    return tf.stack([tf.ones_like(brightest), brightest], axis=-1)


def test_a_tie_counts_as_fooled():
    # Reference Sparse-RS stops an image once its margin is <= 0.
    images = np.zeros((2, 3, 3, 1), np.float32)
    result = sparse_rs(_tie_model, images, np.zeros(2, np.int32), eps=1, queries=20)
    assert np.all(result.is_adversarial.numpy())
    assert np.all(result.queries.numpy() <= 2)  # the start or the first query shows white
    assert np.all(result.adversarial.numpy().max(axis=(1, 2, 3)) == 1.0)


def test_the_cascade_judges_by_a_fresh_forward_pass():
    # Sparse-RS stops at the tie, but argmax picks class 0, the true one: the image survives.
    from tf_fastls0.attacks import SURVIVED, sparse_autoattack

    images = np.zeros((2, 3, 3, 1), np.float32)
    result = sparse_autoattack(_tie_model, batches=[(images, np.zeros(2, np.int32))], eps=1,
                               queries=20, attacks="rs", compiled=False)
    np.testing.assert_array_equal(result.broken_by, SURVIVED)
