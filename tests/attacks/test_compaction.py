"""Compaction: dropping broken images from a running attack changes its cost, never its result."""

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.attacks import SparseAutoAttack, sparse_autoattack, sparse_pgd, sparse_rs
from tf_fastls0.attacks.compaction import bucket, survivors_first

SHAPE = (6, 6, 3)


@pytest.fixture(scope="module")
def counted(mlp):
    """A row-exact MLP whose labels are its own clean predictions (every image starts correct),
    and a ``model_fn`` that counts the rows it is run on (in eager mode).

    Row-exact: computed in float64 and returned as float32 logits, so the float64 sums' order
    (which CPU kernels pick by batch size) cannot show in a float32 row, and each row's logits and
    gradients have the same bits at every batch size (``test_the_row_exact_model_is_row_exact``).
    The float32 MLP of the other tests does not (nor does a Keras CNN): there compaction keeps
    results only to the last bit."""
    model_fn = mlp(SHAPE, 4, seed=3, dtype=tf.float64)
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(48, *SHAPE)).astype(np.float32)
    labels = np.argmax(model_fn(images).numpy(), axis=-1).astype(np.int32)
    rows = []

    def counting(batch):
        if tf.executing_eagerly():
            rows.append(int(batch.shape[0]))
        return model_fn(batch)

    return counting, images, labels, rows


def _run(attack, counted, compact, compiled):
    model_fn, images, labels, rows = counted
    rows.clear()
    run = lambda x, y: attack(model_fn, x, y, compact=compact)  # noqa: E731
    result = (tf.function(run) if compiled else run)(images, labels)
    return result, sum(rows)


ATTACKS = {
    "spgd_unproj": lambda model_fn, x, y, compact: sparse_pgd(model_fn, x, y, eps=3, iterations=40,
                                                              seed=2, compact=compact),
    "spgd_proj": lambda model_fn, x, y, compact: sparse_pgd(model_fn, x, y, eps=3, iterations=40,
                                                            projected=True, seed=2,
                                                            compact=compact),
    "rs": lambda model_fn, x, y, compact: sparse_rs(model_fn, x, y, eps=3, queries=80, seed=2,
                                                    compact=compact),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("compiled", [False, True])
def test_compacted_and_full_batches_agree(counted, name, compiled):
    full, full_rows = _run(ATTACKS[name], counted, compact=False, compiled=compiled)
    compacted, compacted_rows = _run(ATTACKS[name], counted, compact=True, compiled=compiled)
    fooled = full.is_adversarial.numpy()
    assert 0.3 * len(fooled) < fooled.sum() < len(fooled)  # many fall, some survive
    # sPGD's start and last iterate (N-AAER's base, ATTA's carried start) are kept by the full
    # batch only, by design.
    fields = [field for field in full._fields if field not in ("last_iterate", "start")]
    for field in fields:
        np.testing.assert_array_equal(getattr(full, field).numpy(),
                                      getattr(compacted, field).numpy(), err_msg=field)
    if not compiled:  # eager runs show the rows the model saw
        assert compacted_rows < full_rows


def test_the_cascade_agrees_compacted_or_not(counted):
    model_fn, images, labels, _ = counted
    batches = [(images, labels)]
    first, second = (SparseAutoAttack(model_fn, eps=3, iterations=40, queries=80, seed=2,
                                      compact=compact)(batches) for compact in (True, False))
    np.testing.assert_array_equal(first.broken_by, second.broken_by)
    np.testing.assert_array_equal(first.adversarial, second.adversarial)
    assert first.report["survivors"] == second.report["survivors"]


def test_buckets_hold_every_active_row_with_at_most_a_third_of_padding():
    assert [int(bucket(n)) for n in (1, 2, 3, 4, 5, 7, 9, 13, 250, 256, 257)] == [
        1, 2, 3, 4, 6, 8, 12, 16, 256, 256, 384]
    counts = tf.range(1, 5000)
    sizes = bucket(counts)
    assert bool(tf.reduce_all(sizes >= counts))
    assert bool(tf.reduce_all(3 * (sizes - counts) < sizes))
    active = tf.constant([False, True, False, False, True, True, False])
    rows = survivors_first(active).numpy()
    assert list(rows) == [1, 4, 5]
    active = tf.constant([False, True, False, False, True, True, False, True, True])
    rows = survivors_first(active).numpy()
    assert list(rows[:5]) == [1, 4, 5, 7, 8] and len(rows) == 6 and not active.numpy()[rows[5]]


def test_the_row_exact_model_is_row_exact(counted):
    # What the bit-for-bit tests above rest on: every row's logits and input gradient the same at
    # every batch size.
    model_fn, images, _, _ = counted
    upstream = np.random.default_rng(4).normal(size=(len(images), 4)).astype(np.float32)

    def logits_and_gradient(n):
        x = tf.constant(images[:n])
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model_fn(x)
            weighted = tf.reduce_sum(logits * upstream[:n])
        return logits.numpy(), tape.gradient(weighted, x).numpy()

    full_logits, full_gradient = logits_and_gradient(len(images))
    for n in (1, 3, 5, 7, 12, 17, 24, 31):
        logits, gradient = logits_and_gradient(n)
        np.testing.assert_array_equal(logits, full_logits[:n])
        np.testing.assert_array_equal(gradient, full_gradient[:n])


@pytest.mark.parametrize("projected", [False, True])
def test_spgd_spends_no_pass_on_images_fooled_before_it_or_after_all_stopped(counted, projected):
    # Every image misclassified from the start: the compacted attack runs its first
    # forward+backward on one padding row and no last forward; the result is the clean images.
    model_fn, images, labels, rows = counted
    wrong = (labels + 1) % 4
    results = {}
    for compact in (False, True):
        rows.clear()
        results[compact] = sparse_pgd(model_fn, images, wrong, eps=3, iterations=5,
                                      projected=projected, seed=2, compact=compact)
        seen = list(rows)
        assert seen[0] == len(images)  # the clean pass
        assert seen[1:] == ([1] if compact else [len(images), len(images)])
    for field in ("adversarial", "is_adversarial", "loss", "logits", "passes"):
        np.testing.assert_array_equal(getattr(results[False], field).numpy(),
                                      getattr(results[True], field).numpy(), err_msg=field)
    np.testing.assert_array_equal(results[True].adversarial.numpy(), images)


def test_spgd_counts_the_passes_each_image_was_attacked_with(counted):
    model_fn, images, labels, _ = counted
    everyone = sparse_pgd(model_fn, images, labels, eps=3, iterations=12, loss="kl", compact=True)
    np.testing.assert_array_equal(everyone.passes.numpy(), 12)  # KL: nobody stops early
    stopping = sparse_pgd(model_fn, images, labels, eps=3, iterations=12, seed=2, compact=True)
    passes, fooled = stopping.passes.numpy(), stopping.is_adversarial.numpy()
    np.testing.assert_array_equal(passes[~fooled], 12)
    assert fooled.any() and np.all(passes[fooled] <= 12) and passes.min() < 12


@pytest.mark.slow
def test_the_cascade_agrees_compacted_or_not_on_a_cifar_cnn(cifar_cnn):
    # Observed at eps = 10: survivors 89 -> 18 -> 15 -> 15 of 200 (most fall in the first
    # iterations of the first stage, some resist every stage); equal on a 2-core CPU.
    model_fn, images, labels = cifar_cnn
    batches = [(images[i:i + 100], labels[i:i + 100]) for i in (0, 100)]
    first, second = (sparse_autoattack(model_fn, batches=batches, eps=10, iterations=30, queries=60,
                                       compact=compact) for compact in (True, False))
    survivors = first.report["survivors"]
    assert survivors["spgd_unproj"] < 0.5 * survivors["clean"] and survivors["rs"] > 0
    np.testing.assert_array_equal(first.broken_by, second.broken_by)
    np.testing.assert_array_equal(first.adversarial, second.adversarial)
