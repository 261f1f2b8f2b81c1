"""AAER's loss against a numpy transcription of the reference's formula."""

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.losses import aaer


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_ce(labels, logits):
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def np_aaer(start, adv, labels, lambdas):
    lambda1, lambda2, lambda3 = lambdas
    before, after = np_ce(labels, start), np_ce(labels, adv)
    abnormal = before > after
    normal = before <= after
    regulariser = 0.0
    if abnormal.any() and normal.any():
        variation = ((adv - start) ** 2).sum(-1)
        gap = (before - after)[abnormal].mean()
        excess = max(variation[abnormal].mean() - variation[normal].mean(), 0.0)
        regulariser = abnormal.mean() * (lambda2 * gap + lambda3 * excess)
    return after.mean() + lambda1 * regulariser


@pytest.fixture
def logits():
    rng = np.random.default_rng(8)  # 4 of 8 abnormal, V_a > V_n
    start = rng.normal(size=(8, 4)).astype(np.float32) * 2
    adv = (start + rng.normal(size=(8, 4)) * 1.5).astype(np.float32)
    labels = rng.integers(0, 4, size=8).astype(np.int32)
    return start, adv, labels


@pytest.mark.parametrize("lambdas", [(1.0, 4.0, 1.5), (0.5, 2.0, 10.0), (2.0, 0.0, 0.0)])
def test_aaer_matches_numpy(logits, lambdas):
    start, adv, labels = logits
    abnormal = np_ce(labels, start) > np_ce(labels, adv)
    assert 0 < abnormal.sum() < len(labels)  # the regulariser is on in this batch
    terms = aaer.aaer_loss(start, adv, labels, *lambdas)
    np.testing.assert_allclose(terms.total, np_aaer(start, adv, labels, lambdas), rtol=1e-5)


def test_the_variation_term_is_gated_at_the_normal_examples_variation(logits):
    start, adv, labels = logits
    abnormal = np_ce(labels, start) > np_ce(labels, adv)
    calm = adv.copy()
    # Abnormal outputs that move less than the normal ones: only the lost loss is penalised.
    calm[abnormal] = start[abnormal] + 0.01 * (adv[abnormal] - start[abnormal])
    calm[~abnormal] = adv[~abnormal] * 3.0
    expected = np_aaer(start, calm, labels, (1.0, 4.0, 1.5))
    np.testing.assert_allclose(aaer.aaer_loss(start, calm, labels).total, expected, rtol=1e-5)


def test_no_regulariser_when_every_example_is_normal_or_every_one_abnormal(logits):
    start, _, labels = logits
    for adv in (start - 5.0 * np.eye(4, dtype=np.float32)[labels],   # loss up everywhere
                start + 5.0 * np.eye(4, dtype=np.float32)[labels]):  # loss down everywhere
        terms = aaer.aaer_loss(start, adv, labels)
        assert float(terms.clean) == 0.0
        np.testing.assert_allclose(terms.total, np_ce(labels, adv).mean(), rtol=1e-5)


def test_gradient_flows_through_the_adversarial_logits_only(logits):
    start, adv, labels = logits
    start, adv = tf.constant(start), tf.constant(adv)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([start, adv])
        regulariser = aaer.aaer_loss(start, adv, labels).clean
    assert tape.gradient(regulariser, start) is None
    assert float(tf.reduce_max(tf.abs(tape.gradient(regulariser, adv)))) > 0.0


def test_only_the_abnormal_examples_variation_moves_the_weights(logits):
    """The reference detaches both losses: the lost loss G changes the value, not the gradient,
    which is (m / n) * lambda3 * d V_a / d f(x') when V_a exceeds V_n."""
    start, adv, labels = logits
    abnormal = np_ce(labels, start) > np_ce(labels, adv)
    variation = ((adv - start) ** 2).sum(-1)
    assert variation[abnormal].mean() > variation[~abnormal].mean()  # the gate is open
    adv_tensor = tf.constant(adv)
    with tf.GradientTape() as tape:
        tape.watch(adv_tensor)
        regulariser = aaer.regulariser_share(start, adv_tensor, labels, ce_weight=4.0,
                                             variation_weight=1.5)
    expected = np.zeros_like(adv)
    expected[abnormal] = abnormal.mean() * 1.5 * 2.0 * (adv - start)[abnormal] / abnormal.sum()
    np.testing.assert_allclose(tape.gradient(regulariser, adv_tensor), expected, rtol=1e-5,
                               atol=1e-6)
