"""Objectives of SPEC section 5 against numpy transcriptions of the formulas and hand-worked cases."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.losses import objectives
from tf_fastls0.losses import per_example
from tf_fastls0.losses.label_smoothing import LabelSmoothingSettings
from tf_fastls0.training.config import TrainConfig


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_ce(labels, logits):
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def np_soft_ce(targets, logits):
    return -(targets * log_softmax(logits)).sum(-1)


def np_kl(p_logits, q_logits):
    log_p, log_q = log_softmax(p_logits), log_softmax(q_logits)
    return (np.exp(log_p) * (log_p - log_q)).sum(-1)


def np_soft_label_weighted_ce(targets, logits):
    weights = targets.max(-1)
    return (weights * np_soft_ce(targets, logits)).sum() / weights.sum()


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    clean = rng.normal(size=(5, 4)).astype(np.float32) * 2
    adv = rng.normal(size=(5, 4)).astype(np.float32) * 2
    labels = rng.integers(0, 4, size=5).astype(np.int32)
    raw = rng.uniform(size=(5, 4)) ** 3
    rows = (raw / raw.sum(-1, keepdims=True)).astype(np.float32)
    return clean, adv, labels, rows


def test_per_example_terms_match_numpy(batch):
    clean, adv, labels, rows = batch
    np.testing.assert_allclose(per_example.cross_entropy(labels, clean), np_ce(labels, clean), rtol=1e-5)
    np.testing.assert_allclose(per_example.soft_cross_entropy(rows, clean), np_soft_ce(rows, clean),
                               rtol=1e-5)
    np.testing.assert_allclose(per_example.kl_divergence(clean, adv), np_kl(clean, adv), rtol=1e-5)


def test_kl_hand_example():
    # softmax([0, 0]) = (1/2, 1/2), softmax([log 3, 0]) = (3/4, 1/4):
    # KL = 1/2 log(2/3) + 1/2 log 2 = 1/2 log(4/3).
    kl = per_example.kl_divergence(tf.constant([[0.0, 0.0]]), tf.constant([[math.log(3.0), 0.0]]))
    np.testing.assert_allclose(kl, [0.5 * math.log(4.0 / 3.0)], rtol=1e-6)


def test_sparse_at_is_adversarial_ce(batch):
    clean, adv, labels, _ = batch
    terms = objectives.sparse_at_loss(None, adv, labels)
    np.testing.assert_allclose(terms.total, np_ce(labels, adv).mean(), rtol=1e-5)
    np.testing.assert_allclose(terms.adversarial, terms.total)
    assert float(terms.clean) == 0.0


def paper_objectives():
    """Every objective with the paper's coefficients (Tradeoff a = 0.75, sTRADES beta = 6) and
    the baselines' defaults, as a run reads them."""
    config = TrainConfig(tradeoff_alpha=0.75, strades_beta=6.0)
    return [objectives.from_settings(name, config) for name in objectives.OBJECTIVES]


def test_tradeoff_is_paper_eq8(batch):
    clean, adv, labels, _ = batch
    terms = objectives.tradeoff_loss(clean, adv, labels, alpha=0.75)
    expected = 0.25 * np_ce(labels, clean).mean() + 0.75 * np_ce(labels, adv).mean()
    np.testing.assert_allclose(terms.total, expected, rtol=1e-5)
    np.testing.assert_allclose(terms.clean, np_ce(labels, clean).mean(), rtol=1e-5)
    np.testing.assert_allclose(terms.adversarial, np_ce(labels, adv).mean(), rtol=1e-5)
    alpha_03 = objectives.tradeoff_loss(clean, adv, labels, alpha=0.3).total
    np.testing.assert_allclose(alpha_03, 0.7 * np_ce(labels, clean).mean() + 0.3 * np_ce(labels, adv).mean(),
                               rtol=1e-5)


def test_trades_hand_example():
    # Two-class batch: CE(clean) = log 2 for both examples; KL as in test_kl_hand_example for the
    # first, 0 for the second (adv == clean). beta = 6: total = log 2 + 6 * (1/2 log(4/3)) / 2.
    clean = tf.constant([[0.0, 0.0], [0.0, 0.0]])
    adv = tf.constant([[math.log(3.0), 0.0], [0.0, 0.0]])
    terms = objectives.trades_loss(clean, adv, tf.constant([0, 1]), beta=6.0)
    np.testing.assert_allclose(terms.total, math.log(2.0) + 6.0 * 0.25 * math.log(4.0 / 3.0), rtol=1e-6)


def test_trades_matches_numpy(batch):
    clean, adv, labels, _ = batch
    terms = objectives.trades_loss(clean, adv, labels, beta=6.0)
    expected = np_ce(labels, clean).mean() + 6.0 * np_kl(clean, adv).mean()
    np.testing.assert_allclose(terms.total, expected, rtol=1e-5)
    np.testing.assert_allclose(terms.adversarial, np_kl(clean, adv).mean(), rtol=1e-5)


def test_trades_gradient_flows_through_clean_side_of_kl(batch):
    clean, adv, _, _ = batch
    clean = tf.constant(clean)
    with tf.GradientTape() as tape:
        tape.watch(clean)
        kl = tf.reduce_sum(per_example.kl_divergence(clean, adv))
    p = np.exp(log_softmax(clean.numpy()))
    # d KL(softmax a || Q) / d a_k = P_k (log P_k - log Q_k - KL)
    expected = p * (log_softmax(clean.numpy()) - log_softmax(adv) - np_kl(clean.numpy(), adv)[:, None])
    np.testing.assert_allclose(tape.gradient(kl, clean), expected, rtol=1e-4, atol=1e-6)


def test_soft_label_weighted_clean_ce_matches_formula(batch):
    clean, _, _, rows = batch
    np.testing.assert_allclose(objectives.classification_term(clean, rows), np_soft_label_weighted_ce(rows, clean),
                               rtol=1e-5)


def test_soft_label_weighted_ce_hand_example():
    # t1 = (0.8, 0.2), w1 = 0.8; t2 = (0.5, 0.5), w2 = 0.5; logits 0 give log softmax = log 1/2,
    # so each row's soft CE is log 2 and the weighted mean is log 2. With logits (log 4, 0) for row 1:
    # log softmax = (log 4/5, log 1/5), soft CE1 = -(0.8 log 0.8 + 0.2 log 0.2).
    rows = tf.constant([[0.8, 0.2], [0.5, 0.5]])
    flat = objectives.classification_term(tf.zeros([2, 2]), rows)
    np.testing.assert_allclose(flat, math.log(2.0), rtol=1e-6)
    ce1 = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
    peaked = objectives.classification_term(tf.constant([[math.log(4.0), 0.0], [0.0, 0.0]]), rows)
    np.testing.assert_allclose(peaked, (0.8 * ce1 + 0.5 * math.log(2.0)) / 1.3, rtol=1e-6)


def test_one_hot_rows_reduce_sat_to_plain_ce(batch):
    clean, adv, labels, _ = batch
    rows = tf.one_hot(labels, 4)
    for objective in paper_objectives():
        with_rows = objective(clean, adv, rows)
        with_labels = objective(clean, adv, labels)
        for got, want in zip(tf.nest.flatten(with_rows), tf.nest.flatten(with_labels)):
            if want is None:  # a term the objective does not have
                assert got is None
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5)


def test_sat_trades_is_paper_eq10(batch):
    clean, adv, _, rows = batch
    terms = objectives.trades_loss(clean, adv, rows, beta=6.0)
    expected = np_soft_label_weighted_ce(rows, clean) + 6.0 / len(rows) * np_kl(clean, adv).sum()
    np.testing.assert_allclose(terms.total, expected, rtol=1e-5)


def test_sat_variants_weight_the_adversarial_ce(batch):
    clean, adv, _, rows = batch
    np.testing.assert_allclose(objectives.sparse_at_loss(None, adv, rows).total,
                               np_soft_label_weighted_ce(rows, adv), rtol=1e-5)
    expected = 0.25 * np_soft_label_weighted_ce(rows, clean) + 0.75 * np_soft_label_weighted_ce(rows, adv)
    np.testing.assert_allclose(objectives.tradeoff_loss(clean, adv, rows, alpha=0.75).total, expected, rtol=1e-5)


def test_no_gradient_reaches_soft_targets(batch):
    clean, adv, _, rows = batch
    rows = tf.constant(rows)
    with tf.GradientTape() as tape:
        tape.watch(rows)
        total = objectives.trades_loss(clean, adv, rows, beta=6.0).total
    assert tape.gradient(total, rows) is None


def test_objectives_run_inside_tf_function(batch):
    clean, adv, labels, rows = batch
    for objective in paper_objectives():
        for targets in (labels, rows):
            eager = objective(clean, adv, targets)
            graph = tf.function(objective)(clean, adv, targets)
            np.testing.assert_allclose(graph.total, eager.total, rtol=1e-6)


def softmax(z):
    return np.exp(log_softmax(z))


def np_mart(clean, adv, labels, beta):
    p_adv, p_clean = softmax(adv), softmax(clean)
    others = p_adv.copy()
    others[np.arange(len(labels)), labels] = 0.0
    bce = np_ce(labels, adv) - np.log(1.0001 - others.max(-1) + 1e-12)
    weight = 1.0000001 - p_clean[np.arange(len(labels)), labels]
    return bce.mean() + beta * (np_kl(clean, adv) * weight).mean()


def test_mart_matches_numpy(batch):
    clean, adv, labels, rows = batch
    for beta in (6.0, 2.0):
        terms = objectives.OBJECTIVES["mart"](clean, adv, labels, beta=beta)
        np.testing.assert_allclose(terms.total, np_mart(clean, adv, labels, beta), rtol=1e-5)
    # Soft rows: SAT-weighted CE, the rows' arg-max as the label of the other terms.
    hard = rows.argmax(-1)
    soft = objectives.OBJECTIVES["mart"](clean, adv, rows, beta=6.0).total
    expected = np_mart(clean, adv, hard, 6.0) - np_ce(hard, adv).mean() + np_soft_label_weighted_ce(rows, adv)
    np.testing.assert_allclose(soft, expected, rtol=1e-5)


def test_label_smoothing_matches_numpy(batch):
    clean, adv, labels, rows = batch
    smoothed = 0.8 * np.eye(4)[labels] + 0.2 / 4
    terms = objectives.OBJECTIVES["label_smoothing"](None, adv, labels, factor=0.2)
    np.testing.assert_allclose(terms.total, np_soft_ce(smoothed, adv).mean(), rtol=1e-5)
    soft_rows = 0.8 * rows + 0.2 / 4
    np.testing.assert_allclose(objectives.OBJECTIVES["label_smoothing"](None, adv, rows, factor=0.2).total,
                               np_soft_label_weighted_ce(soft_rows, adv), rtol=1e-5)
    np.testing.assert_allclose(objectives.OBJECTIVES["label_smoothing"](None, adv, labels, factor=0.0).total,
                               np_ce(labels, adv).mean(), rtol=1e-5)


def test_label_smoothing_s_old_keyword_smoothing_still_works_and_warns(batch):
    _, adv, labels, _ = batch
    with pytest.warns(DeprecationWarning, match="use factor="):
        old = objectives.OBJECTIVES["label_smoothing"](None, adv, labels, smoothing=0.2)
    new = objectives.OBJECTIVES["label_smoothing"](None, adv, labels, factor=0.2)
    np.testing.assert_allclose(old.total, new.total)
    with pytest.warns(DeprecationWarning, match="smoothing= is deprecated; use factor="):
        settings = LabelSmoothingSettings(smoothing=0.2)
    with pytest.warns(DeprecationWarning, match="use .factor"):
        assert settings.smoothing == settings.factor == 0.2


def test_nuat_matches_numpy_and_its_gradient_is_u_v_transpose(batch):
    clean, adv, labels, _ = batch
    # the reference's ||D||_* / 64 at its batch of 64, scaled to n rows: ||D||_* / sqrt(64 n)
    nuclear = np.linalg.svd(adv - clean, compute_uv=False).sum() / np.sqrt(64 * 5)
    terms = objectives.OBJECTIVES["nuat"](clean, adv, labels, weight=4.5, ramp_fraction=0.5)
    np.testing.assert_allclose(terms.adversarial, nuclear, rtol=1e-5)
    np.testing.assert_allclose(terms.total, np_ce(labels, clean).mean() + 2.25 * nuclear, rtol=1e-5)
    adv_variable = tf.constant(adv)
    with tf.GradientTape() as tape:
        tape.watch(adv_variable)
        norm = objectives.OBJECTIVES["nuat"](clean, adv_variable, labels).adversarial
    u, _, vt = np.linalg.svd(adv - clean, full_matrices=False)
    np.testing.assert_allclose(tape.gradient(norm, adv_variable), u @ vt / np.sqrt(64 * 5),
                               rtol=1e-4, atol=1e-6)


def test_nuat_handles_a_rank_deficient_difference(batch):
    clean, _, labels, _ = batch
    adv = clean.copy()
    adv[0] += np.array([3.0, 0.0, -4.0, 0.0], np.float32)  # rank one: norm = 5
    np.testing.assert_allclose(objectives.OBJECTIVES["nuat"](clean, adv, labels).adversarial,
                               5 / np.sqrt(64 * 5), rtol=1e-5)


@pytest.mark.parametrize("copies", [2, 4])
def test_nuat_on_copies_of_a_64_row_batch_is_the_references_value_on_it(copies):
    """The reference divides the nuclear norm of its 64-row batch by 64 (val-iisc/NuAT,
    TRAIN_BATCH_SIZE = 64); a batch of ``copies`` copies of those rows has the same regulariser
    here, where ||D||_* / n would be 1 / sqrt(copies) of it."""
    rng = np.random.default_rng(3)
    clean = rng.normal(size=(64, 10)).astype(np.float32)
    adv = clean + rng.normal(size=(64, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    reference = np.linalg.svd(adv - clean, compute_uv=False).sum() / 64
    tiled = [np.tile(x, (copies, 1)) for x in (clean, adv)] + [np.tile(labels, copies)]
    np.testing.assert_allclose(objectives.OBJECTIVES["nuat"](*tiled).adversarial, reference,
                               rtol=1e-5)
    np.testing.assert_allclose(objectives.OBJECTIVES["nuat"](clean, adv, labels).adversarial,
                               reference, rtol=1e-5)


def test_nuat_weight_ramps_linearly_to_its_final_value():
    from tf_fastls0.losses import nuat
    np.testing.assert_allclose([float(nuat.ramp(e, 90)) for e in (0, 45, 90, 99)], [0, 0.5, 1, 1])


def np_advlc(clean, adv, labels, weight, top):
    diff = np.abs(clean - adv).ravel()
    count = int(diff.size * top)
    return np_ce(labels, adv).mean() + weight * np.sort(diff)[::-1][:count].sum() / len(labels)


@pytest.mark.parametrize("top", [1.0, 0.1, 0.45, 0.01])
def test_advlc_matches_numpy(batch, top):
    clean, adv, labels, _ = batch
    terms = objectives.OBJECTIVES["advlc"](clean, adv, labels, weight=2.0, top=top)
    np.testing.assert_allclose(terms.total, np_advlc(clean, adv, labels, 2.0, top), rtol=1e-5)
