"""Sparse-PGD (SPEC §2): invariants, the step rule against numpy, best-tracking, restarts, cost."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import LOSSES, random_variant, sparse_pgd
from tf_fastls0.utils import keyed_random

CLASSES = 4


def _batch(shape, batch, seed, low=0.0, high=1.0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(low, high, size=(batch, *shape)).astype(np.float32)
    labels = rng.integers(0, CLASSES, size=batch).astype(np.int32)
    return images, labels


def _loss_arguments(loss, labels, seed=0):
    rng = np.random.default_rng(seed)
    soft = rng.dirichlet(np.ones(CLASSES), size=len(labels)).astype(np.float32)
    return {"loss": loss, "soft_targets": soft, "target_labels": (labels + 1) % CLASSES}


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 4), height=st.integers(1, 7), width=st.integers(1, 7),
       channels=st.sampled_from([1, 3]), eps=st.integers(0, 12), steps=st.integers(0, 3),
       projected=st.sampled_from([False, True, "tensor"]), loss=st.sampled_from(LOSSES),
       patience=st.sampled_from([None, 1, 3]),
       dtype=st.sampled_from([np.float32, np.float64, np.float16]), seed=st.integers(0, 99))
def test_output_is_a_sparse_image(mlp, assert_sparse_image, batch, height, width, channels, eps,
                                  steps, projected, loss, patience, dtype, seed):
    shape = (height, width, channels)
    images, labels = _batch(shape, batch, seed)
    images = images.astype(dtype)
    model_fn = mlp(shape, CLASSES, seed)
    variant = tf.constant(seed % 2 == 0) if projected == "tensor" else projected
    result = sparse_pgd(model_fn, images, labels, eps=eps, iterations=steps, projected=variant,
                        patience=patience, seed=seed, **_loss_arguments(loss, labels, seed))
    assert_sparse_image(result.adversarial.numpy(), images, eps)
    assert result.adversarial.dtype == tf.as_dtype(dtype)
    assert result.is_adversarial.shape == [batch] and result.is_adversarial.dtype == tf.bool
    assert result.loss.shape == [batch]
    logits = model_fn(result.adversarial).numpy()
    np.testing.assert_allclose(result.logits.numpy(), logits, rtol=1e-3, atol=1e-3)
    if loss in ("ce", "soft_ce", "kl"):
        np.testing.assert_array_equal(result.is_adversarial.numpy(), logits.argmax(-1) != labels)


@pytest.mark.parametrize("eps, steps", [(0, 5), (4, 0)])
def test_zero_budget_returns_the_input(mlp, eps, steps):
    images, labels = _batch((5, 5, 3), 3, seed=1)
    result = sparse_pgd(mlp((5, 5, 3)), images, labels, eps=eps, iterations=steps)
    np.testing.assert_array_equal(result.adversarial.numpy(), images)


def _distance_model(clean, sign, offset):
    """Two classes, logits ``[0, offset + sign * ||x - clean||^2]``: label 0 is always predicted,
    and the CE of label 0 falls (sign -1) or rises (sign +1) with any perturbation."""
    clean = tf.constant(clean)

    def model_fn(images):
        distance = tf.reduce_sum(tf.square(images - clean), axis=[1, 2, 3])
        return tf.stack([tf.zeros_like(distance), offset + sign * distance], axis=1)

    return model_fn


@pytest.mark.parametrize("steps", [1, 3])
def test_steps_that_lower_the_loss_return_the_clean_image(steps):
    images, _ = _batch((4, 4, 3), 3, seed=2, low=0.1, high=0.9)
    labels = np.zeros(3, np.int32)
    model_fn = _distance_model(images, sign=-1.0, offset=-1.0)
    result = sparse_pgd(model_fn, images, labels, eps=2, iterations=steps)
    np.testing.assert_array_equal(result.adversarial.numpy(), images)
    np.testing.assert_allclose(result.loss.numpy(), np.log1p(np.exp(-1.0)), rtol=1e-6)
    assert not result.is_adversarial.numpy().any()


def test_a_step_that_raises_the_loss_is_kept():
    images, _ = _batch((4, 4, 3), 3, seed=3, low=0.1, high=0.9)
    labels = np.zeros(3, np.int32)
    model_fn = _distance_model(images, sign=1.0, offset=-5.0)  # eps=1, C=3: distance <= 3 < 5
    result = sparse_pgd(model_fn, images, labels, eps=1, iterations=1)
    changed = np.any(result.adversarial.numpy() != images, axis=-1).sum(axis=(1, 2))
    np.testing.assert_array_equal(changed, [1, 1, 1])
    assert np.all(result.loss.numpy() > np.log1p(np.exp(-5.0)))


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_clean_mistakes_are_untouched_except_under_kl(mlp, loss):
    images, _ = _batch((5, 5, 3), 6, seed=4)
    model_fn = mlp((5, 5, 3), CLASSES, seed=4)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    labels[:3] = (labels[:3] + 1) % CLASSES
    result = sparse_pgd(model_fn, images, labels, eps=3, iterations=3, loss=loss)
    adversarial = result.adversarial.numpy()
    unchanged = np.all(adversarial == images, axis=(1, 2, 3))
    if loss == "ce":
        assert unchanged[:3].all()
        assert result.is_adversarial.numpy()[:3].all()
    else:
        assert not unchanged.any()
        assert np.all(result.loss.numpy() >= 0.0)


def _numpy_spgd(images, labels, weights, eps, steps, projected, keys, seed, alpha=0.25,
                beta=0.25, patience=None):
    """sPGD with CE on the linear model ``logits = flatten(x) @ W``, straight from SPEC §2 (the
    reference's loop: update, evaluate, track, then count unchanged masks and restart). As in the
    reference (CityU-MLO/sPGD ``autoattack/spgd.py``), the perturbation's top-k is of the float32
    sigmoid (``MaskingA(perturb, F.sigmoid(mask), k)``) and the counter compares the top-k of the
    raw logits (``project_mask(mask)`` against ``project_mask(prev_mask)``). Returns the best
    inputs, their losses and the restart events ``{"restarts", "resets", "soft_disagrees"}``
    (count decisions the sigmoid's top-k would have made otherwise)."""
    batch, height, width, channels = images.shape
    x = images.astype(np.float64)
    sigmoid = lambda m: 1.0 / (1.0 + np.exp(-m))  # noqa: E731

    def cross_entropy(logits):
        shifted = logits - logits.max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        return -log_probs[np.arange(batch), labels], np.exp(log_probs)

    def top_k(scores):
        flat = scores.reshape(batch, -1)
        mask = np.zeros_like(flat)
        for row, order in zip(mask, np.argsort(-flat, axis=1, kind="stable")):
            row[order[:eps]] = 1.0
        return mask.reshape(batch, height, width, 1)

    def evaluate(p, m):
        """The attacked input, its logits and loss, dL/dp and dL/dm."""
        s = sigmoid(m.astype(np.float32)).astype(np.float64)  # float32 sigmoids tie at 1.0
        mask = top_k(s)
        inputs = x + p * mask
        logits = inputs.reshape(batch, -1) @ weights
        loss, probs = cross_entropy(logits)
        g = ((probs - np.eye(weights.shape[1])[labels]) @ weights.T).reshape(x.shape)
        dm = np.sum(g * p, axis=-1, keepdims=True) * s * (1.0 - s)
        return inputs, logits, loss, g * (mask if projected else s), dm

    clean_logits = x.reshape(batch, -1) @ weights
    best, best_loss = x.copy(), cross_entropy(clean_logits)[0]
    active = clean_logits.argmax(-1) == labels
    events = {"restarts": 0, "resets": 0, "soft_disagrees": 0}
    if eps == 0 or steps == 0:
        return best, best_loss, events
    p = keyed_random.uniform(keys, [height, width, channels], seed, 0,
                             keyed_random.STREAM_MAGNITUDE, minval=-1.0, maxval=1.0).numpy()
    p = np.clip(p, -x, 1.0 - x)
    m = keyed_random.normal(keys, [height, width, 1], seed, 0,
                            keyed_random.STREAM_MASK_LOGITS).numpy().astype(np.float64)
    *_, dp, dm = evaluate(p, m)
    counts = np.zeros(batch, np.int64)
    for i in range(1, steps + 1):
        moving = active[:, None, None, None]
        norm = np.sqrt(np.sum(dm ** 2, axis=(1, 2, 3), keepdims=True))
        stepped_m = m + np.where(norm >= 2e-10, beta * np.sqrt(height * width) * dm / norm, 0.0)
        stepped_p = np.clip(p + alpha * np.sign(dp), np.maximum(-1.0, -x),
                            np.minimum(1.0, 1.0 - x))
        previous, previous_soft = top_k(m), top_k(sigmoid(m.astype(np.float32)))
        p, m = np.where(moving, stepped_p, p), np.where(moving, stepped_m, m)
        inputs, logits, loss, dp, dm = evaluate(p, m)
        fooled = logits.argmax(-1) != labels
        take = active & ((loss >= best_loss) | fooled)
        best[take], best_loss[take] = inputs[take], loss[take]
        active = active & ~fooled
        if patience is None or i == steps:
            continue
        stuck = active & np.all(top_k(m) == previous, axis=(1, 2, 3))
        soft_stuck = active & np.all(top_k(sigmoid(m.astype(np.float32))) == previous_soft,
                                     axis=(1, 2, 3))
        events["soft_disagrees"] += int(np.sum(stuck != soft_stuck))
        if stuck.any():
            counts += stuck
        else:
            counts[active] = 0
            events["resets"] += int(active.any() and counts.any())
        restart = active & (counts >= patience)
        fresh = keyed_random.normal(keys, [height, width, 1], seed, i,
                                    keyed_random.STREAM_RESTART).numpy().astype(np.float64)
        m = np.where(restart[:, None, None, None], fresh, m)
        counts[restart] = 0
        events["restarts"] += int(restart.sum())
    return best, best_loss, events


def _linear_case(shape, batch, seed):
    """Images, labels (runner-up classes: attackable; image 0 its clean class) and the weights of
    a linear model."""
    images, _ = _batch(shape, batch, seed)
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(int(np.prod(shape)), CLASSES)) * 0.5
    logits = images.reshape(batch, -1) @ weights
    labels = np.argsort(logits, axis=-1)[:, -2].astype(np.int32)  # runner-up: attackable
    labels[0] = logits[0].argmax()  # and one clean-correct image that may resist
    model_fn = lambda x: tf.reshape(x, [tf.shape(x)[0], -1]) @ tf.constant(weights, tf.float32)
    return images, labels, weights, model_fn


@pytest.mark.parametrize("projected, alpha, beta", [(False, 0.25, 0.25), (True, 0.25, 0.25),
                                                    (False, 0.1, 2.0), (True, 0.5, 4.0)])
def test_one_step_matches_a_numpy_transcription_of_the_spec(projected, alpha, beta):
    shape, batch, seed = (4, 5, 3), 6, 7
    images, labels, weights, model_fn = _linear_case(shape, batch, seed)
    keys = np.arange(10, 10 + batch)
    expected, expected_loss, _ = _numpy_spgd(images, labels, weights, 4, 1, projected, keys, seed,
                                             alpha, beta)
    result = sparse_pgd(model_fn, images, labels, eps=4, iterations=1, projected=projected,
                        keys=keys, seed=seed, alpha=alpha, beta=beta)
    np.testing.assert_allclose(result.adversarial.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(result.loss.numpy(), expected_loss, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_more_steps_extend_fewer_steps(mlp, loss):
    """The run with t steps is a prefix of the run with more: fooled stays fooled, unchanged, and
    the best loss never drops (early stop and keyed restarts make this exact)."""
    images, _ = _batch((6, 6, 3), 8, seed=5)
    model_fn = mlp((6, 6, 3), CLASSES, seed=5)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    short = sparse_pgd(model_fn, images, labels, eps=6, iterations=2, loss=loss, patience=1)
    long = sparse_pgd(model_fn, images, labels, eps=6, iterations=6, loss=loss, patience=1)
    assert np.all(long.loss.numpy() >= short.loss.numpy() - 1e-6)
    if loss == "ce":
        fooled = short.is_adversarial.numpy()
        assert 0 < fooled.sum() < len(fooled)  # the case is informative only if both kinds occur
        assert np.all(long.is_adversarial.numpy()[fooled])
        np.testing.assert_array_equal(long.adversarial.numpy()[fooled],
                                      short.adversarial.numpy()[fooled])


@pytest.mark.parametrize("projected, patience", [(False, 2), (True, 3)])
def test_restarts_match_a_numpy_transcription_of_the_reference_loop(projected, patience):
    """SPEC §2.6: evaluate, then count unchanged masks (reset only when every attacked image's
    mask changed), restart at ``patience``, move the fresh logits with the previous gradient. The
    compacted batch gives the full batch's result."""
    batch, seed, steps = 12, 1, 14
    images, _ = _batch((4, 5, 3), batch, seed)
    weights = np.random.default_rng(seed).normal(size=(60, CLASSES)) * 0.3
    labels = (images.reshape(batch, -1) @ weights).argmax(-1).astype(np.int32)  # all correct
    model_fn = lambda x: tf.reshape(x, [tf.shape(x)[0], -1]) @ tf.constant(weights, tf.float32)
    keys = np.arange(batch)
    expected, expected_loss, events = _numpy_spgd(images, labels, weights, 2, steps, projected,
                                                  keys, seed, patience=patience)
    assert events["restarts"] > 0 and events["resets"] > 0  # both rules are exercised
    without = _numpy_spgd(images, labels, weights, 2, steps, projected, keys, seed)[0]
    assert not np.allclose(without, expected, atol=1e-3)  # and they change the result
    for compact in (False, True):
        result = sparse_pgd(model_fn, images, labels, eps=2, iterations=steps, projected=projected,
                            patience=patience, keys=keys, seed=seed, compact=compact)
        np.testing.assert_allclose(result.adversarial.numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(result.loss.numpy(), expected_loss, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, seed, beta", [((4, 5, 3), 0, 4.0), ((5, 5, 1), 5, 8.0)])
def test_the_restart_counter_compares_the_raw_logits_top_k(shape, seed, beta):
    """A large mask step drives logits past ~17, where float32 sigmoids tie at 1.0: the counter
    follows the top-k of the raw logits (the reference's ``project_mask``), not of the sigmoid."""
    batch, steps, patience = 12, 20, 2
    images, _ = _batch(shape, batch, seed)
    weights = np.random.default_rng(seed).normal(size=(int(np.prod(shape)), CLASSES)) * 0.3
    labels = (images.reshape(batch, -1) @ weights).argmax(-1).astype(np.int32)
    model_fn = lambda x: tf.reshape(x, [tf.shape(x)[0], -1]) @ tf.constant(weights, tf.float32)
    keys = np.arange(batch)
    expected, expected_loss, events = _numpy_spgd(images, labels, weights, 2, steps, False, keys,
                                                  seed, beta=beta, patience=patience)
    assert events["soft_disagrees"] > 0 and events["restarts"] > 0  # the case tells them apart
    result = sparse_pgd(model_fn, images, labels, eps=2, iterations=steps, patience=patience,
                        keys=keys, seed=seed, beta=beta)
    np.testing.assert_allclose(result.adversarial.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(result.loss.numpy(), expected_loss, rtol=1e-4, atol=1e-5)


def test_soft_targets_that_are_one_hot_give_the_ce_attack(mlp):
    images, labels = _batch((5, 5, 3), 5, seed=8)
    model_fn = mlp((5, 5, 3), CLASSES, seed=8)
    hard = sparse_pgd(model_fn, images, labels, eps=3, iterations=3)
    soft = sparse_pgd(model_fn, images, labels, eps=3, iterations=3, loss="soft_ce",
                      soft_targets=np.eye(CLASSES, dtype=np.float32)[labels])
    np.testing.assert_array_equal(soft.adversarial.numpy(), hard.adversarial.numpy())


def test_targeted_success_means_the_target_class(mlp):
    images, _ = _batch((6, 6, 3), 8, seed=9)
    model_fn = mlp((6, 6, 3), CLASSES, seed=9)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    targets = (labels + 1) % CLASSES
    result = sparse_pgd(model_fn, images, labels, eps=6, iterations=8, loss="targeted_ce",
                        target_labels=targets)
    predicted = model_fn(result.adversarial).numpy().argmax(-1)
    np.testing.assert_array_equal(result.is_adversarial.numpy(), predicted == targets)
    assert result.is_adversarial.numpy().any()


def test_randomness_is_keyed_per_example_not_per_batch(mlp):
    images, labels = _batch((6, 6, 3), 6, seed=10)
    model_fn = mlp((6, 6, 3), CLASSES, seed=10)
    keys = np.array([40, 41, 42, 43, 44, 45])
    whole = sparse_pgd(model_fn, images, labels, eps=2, iterations=3, keys=keys)
    half = sparse_pgd(model_fn, images[3:], labels[3:], eps=2, iterations=3, keys=keys[3:])
    np.testing.assert_allclose(half.adversarial.numpy(), whole.adversarial.numpy()[3:], atol=1e-6)


def test_compiled_with_a_variant_tensor_and_batch_of_one_matches_eager(mlp):
    images, labels = _batch((5, 6, 1), 1, seed=11)
    model_fn = mlp((5, 6, 1), CLASSES, seed=11)
    compiled = tf.function(
        lambda x, y, projected: sparse_pgd(model_fn, x, y, eps=3, iterations=4, projected=projected,
                                           patience=1),
        reduce_retracing=True)
    for projected in (False, True):
        graph = compiled(images, labels, tf.constant(projected))
        eager = sparse_pgd(model_fn, images, labels, eps=3, iterations=4, projected=projected,
                           patience=1)
        np.testing.assert_allclose(graph.adversarial.numpy(), eager.adversarial.numpy(), atol=1e-6)


def _counting_model(model_fn, counts):
    """Counts model evaluations and backward passes through the model (eager side effects)."""

    @tf.custom_gradient
    def counted(images):
        counts["forward"] += 1

        def grad(upstream):
            counts["backward"] += 1
            return upstream

        return tf.identity(images), grad

    return lambda images: model_fn(counted(images))


@pytest.mark.parametrize("steps", [1, 4])
def test_cost_is_steps_backward_and_steps_plus_one_forward(mlp, steps):
    images, labels = _batch((5, 5, 3), 4, seed=12)
    model_fn = mlp((5, 5, 3), CLASSES, seed=12)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    clean_logits = model_fn(images)
    counts = {"forward": 0, "backward": 0}
    sparse_pgd(_counting_model(model_fn, counts), images, labels, eps=1, iterations=steps,
               clean_logits=clean_logits, loss="kl")  # kl: no early stop, so every step runs
    assert counts == {"forward": steps + 1, "backward": steps}


def test_training_variant_is_a_fair_keyed_coin():
    draws = np.array([bool(random_variant(seed=4, counter=step)) for step in range(400)])
    assert 0.4 < draws.mean() < 0.6
    assert bool(random_variant(4, 17)) == draws[17]
    assert random_variant(4, tf.constant(3, tf.int64)).shape == []


def test_a_carried_start_is_where_the_attack_begins(mlp):
    """With a flat loss no step moves (p, m), so the last iterate is the start: the carried
    pixels with their magnitudes (clipped into the box), the free places from the random start."""
    images, labels = _batch((5, 5, 3), 3, seed=7)
    rng = np.random.default_rng(7)
    mask = np.zeros((3, 5, 5, 1), np.float32)
    for i, count in enumerate((4, 2, 0)):  # full, partly carried, nothing carried
        mask[i].flat[rng.choice(25, count, replace=False)] = 1.0
    magnitude = rng.uniform(-1.5, 1.5, size=(3, 5, 5, 3)).astype(np.float32)
    flat = lambda x: tf.zeros([tf.shape(x)[0], CLASSES]) + 0.0 * tf.reduce_sum(x)  # noqa: E731
    carried = sparse_pgd(flat, images, labels, eps=4, iterations=1, initial=(mask, magnitude))
    fresh = sparse_pgd(flat, images, labels, eps=4, iterations=1)
    start_mask, start_magnitude = (t.numpy() for t in carried.last_iterate)
    fresh_mask, fresh_magnitude = (t.numpy() for t in fresh.last_iterate)
    assert np.all(start_mask.reshape(3, -1).sum(-1) == 4)
    assert np.all(start_mask[mask > 0] == 1)  # every carried pixel is in the start's mask
    box = np.clip(magnitude, -images, 1 - images)
    chosen = np.broadcast_to(mask > 0, magnitude.shape)
    np.testing.assert_allclose(start_magnitude[chosen], box[chosen], atol=1e-6)
    np.testing.assert_array_equal(start_magnitude[~chosen], fresh_magnitude[~chosen])
    np.testing.assert_array_equal(start_mask[2], fresh_mask[2])  # nothing carried: sPGD's start
    assert not np.array_equal(start_mask[0], fresh_mask[0])
