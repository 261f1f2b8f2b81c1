"""The analysed training objective: parts sum to the paper's formulas (numpy), and the landscape's
"reattack" mode agrees with fixed examples at the trained weights."""

import keras
import numpy as np
import pytest

from tf_fastls0.analysis import adversarial_inputs
from tf_fastls0.analysis import landscape
from tf_fastls0.analysis import loss_parts
from tf_fastls0.analysis import training_objective


@pytest.fixture(scope="module")
def problem():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3),
                              keras.layers.Flatten(), keras.layers.Dense(5)])
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(10, 6, 6, 3)).astype(np.float32)
    adversarial = np.clip(images + rng.normal(0, 0.3, images.shape), 0, 1).astype(np.float32)
    labels = rng.integers(0, 5, 10).astype(np.int32)
    return model, images, adversarial, labels


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits, labels):
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def kl(p_logits, q_logits):
    log_p, log_q = log_softmax(p_logits), log_softmax(q_logits)
    return np.sum(np.exp(log_p) * (log_p - log_q), axis=1)


def expected(name, clean, adversarial, labels, alpha, beta):
    """SPEC section 5, as data-set means over all examples."""
    if name == "clean":
        return cross_entropy(clean, labels).mean()
    if name == "sparse_at":
        return cross_entropy(adversarial, labels).mean()
    if name == "tradeoff":
        return ((1 - alpha) * cross_entropy(clean, labels)
                + alpha * cross_entropy(adversarial, labels)).mean()
    return (cross_entropy(clean, labels) + beta * kl(clean, adversarial)).mean()


PAPER_OBJECTIVES = ("clean", "sparse_at", "tradeoff", "strades")
# NuAT's nuclear norm, AdvLC's top fraction and AAER's abnormal-example counts are taken per batch:
# they do not add up over parts
PER_EXAMPLE = tuple(name for name in training_objective.NAMES
                    if name not in ("nuat", "advlc", "aaer"))


@pytest.mark.parametrize("name", PER_EXAMPLE)
def test_parts_sum_to_the_objective_over_uneven_batches(problem, name):
    model, images, adversarial, labels = problem
    coefficients = {"tradeoff": {"alpha": 0.3}, "strades": {"beta": 2.0}}.get(name)
    parts = training_objective.objective_parts(name, images, labels, adversarial, batch_size=4,
                                               coefficients=coefficients)
    assert len(parts) == 3  # 4 + 4 + 2 examples
    clean_logits = model(images, training=False).numpy().astype(np.float64)
    adv_logits = model(adversarial, training=False).numpy().astype(np.float64)
    total = loss_parts.total_loss(loss_parts.compiled_parts(model, parts))
    if name in PAPER_OBJECTIVES:
        whole = expected(name, clean_logits, adv_logits, labels, 0.3, 2.0)
    else:  # a Table 6 baseline (checked against numpy in tests/losses): on the whole set at once
        whole = float(training_objective.batch_objective(name)(
            clean_logits.astype(np.float32), adv_logits.astype(np.float32), labels))
    assert total == pytest.approx(whole, rel=1e-5)


def test_adversarial_objectives_refuse_missing_examples(problem):
    _, images, _, labels = problem
    with pytest.raises(ValueError, match="needs adversarial examples"):
        training_objective.objective_parts("sparse_at", images, labels)
    assert training_objective.objective_for_method("fast_ls_l0") == "strades"


def test_reattack_at_the_trained_weights_equals_the_fixed_examples(problem):
    model, images, _, labels = problem
    model_fn = lambda x: model(x, training=False)  # noqa: E731
    fixed = adversarial_inputs.spgd_adversarial(model_fn, images, labels, eps=3, iterations=1,
                                                batch_size=4, seed=5)
    assert np.all(np.sum(np.any(fixed != images, axis=-1), axis=(1, 2)) <= 3)

    def attack(model_fn, x, y, keys, batch_index):
        projected = adversarial_inputs.batch_projected(batch_index, "random", seed=5)
        return adversarial_inputs.spgd_batch(model_fn, x, y, keys, eps=3, iterations=1,
                                             projected=projected, seed=5)

    variables = model.trainable_variables
    directions = [landscape.filter_normalised_direction(variables, seed=1, index=i) for i in (0, 1)]
    held = landscape.loss_grid(model, training_objective.objective_parts(
        "sparse_at", images, labels, fixed, batch_size=4), directions,
        steps=3, extent=0.5)
    recomputed = landscape.loss_grid(model, training_objective.objective_parts(
        "sparse_at", images, labels, attack=attack, batch_size=4),
        directions, steps=3, extent=0.5)
    assert recomputed.losses[1, 1] == pytest.approx(held.losses[1, 1], rel=1e-5)
    # Away from the centre the examples are made afresh for the moved weights.
    assert not np.allclose(recomputed.losses, held.losses)
