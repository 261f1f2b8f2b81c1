"""The budget promise of the attack interface, over every attack in ``attacks.ATTACKS``: whatever
the attack, the image size, the budget (0 and more than the image's pixels included) and the
labels, each returned image changes at most ``eps`` pixels and stays in [0, 1]."""

import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import ATTACKS

CLASSES = 3
# Each attack at a few iterations or queries (the registry's names: a new attack must add one).
SETTINGS = {
    "spgd_unproj": {"iterations": 4},
    "spgd_proj": {"iterations": 4},
    "rs": {"queries": 6},
    "saa": {"iterations": 3, "queries": 4},
    "cornersearch": {"queries": 2, "n_max": 6},
    "saif": {"iterations": 4},
    "sigma_zero": {"iterations": 6},
}


def test_every_registered_attack_is_in_the_property():
    assert set(SETTINGS) == set(ATTACKS)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(SETTINGS)), height=st.integers(2, 5),
       width=st.integers(2, 5), channels=st.sampled_from([1, 3]), batch=st.integers(1, 3),
       eps_share=st.floats(0.0, 1.2), seed=st.integers(0, 99))
def test_every_attack_returns_images_within_its_budget(mlp, predicted_batch, assert_sparse_image,
                                                       name, height, width, channels, batch,
                                                       eps_share, seed):
    shape = (height, width, channels)
    model_fn = mlp(shape, CLASSES, seed)
    images, labels = predicted_batch(model_fn, shape, batch, seed)
    eps = int(eps_share * height * width)  # 0 up to more pixels than the image has
    result = ATTACKS[name](model_fn, images, labels, eps=eps, seed=seed, **SETTINGS[name])
    assert_sparse_image(np.asarray(result.adversarial), images, eps)


def test_sigma_zero_with_a_budget_cuts_its_minimum_norm_images_to_it(mlp, predicted_batch):
    """The case the property guards most: sigma-zero finds fooling images above the budget."""
    shape = (6, 6, 3)
    model_fn = mlp(shape, CLASSES, seed=3)
    images, labels = predicted_batch(model_fn, shape, 12, seed=3)
    unbudgeted = ATTACKS["sigma_zero"](model_fn, images, labels, iterations=40)
    eps = 2
    over = unbudgeted.pixels.numpy() > eps
    assert over.any()  # informative only if some minimum-norm image exceeds the budget
    budgeted = ATTACKS["sigma_zero"](model_fn, images, labels, eps=eps, iterations=40)
    adversarial = np.asarray(budgeted.adversarial)
    changed = np.any(adversarial != images, axis=-1).reshape(len(images), -1).sum(axis=1)
    assert changed.max() <= eps
    fooled = np.argmax(model_fn(adversarial).numpy(), axis=-1) != labels
    np.testing.assert_array_equal(budgeted.is_adversarial.numpy(), fooled)
    np.testing.assert_array_equal(adversarial[~fooled], images[~fooled])


def test_cornersearch_clamps_a_budget_beyond_the_image_to_it():
    """eps 40 on a 4x4 image costs what 17 does (its last step changes up to all 16 pixels),
    not 38 sparsities, 23 of which cannot change more: counted on a model no image fools, so
    every step runs."""
    calls = []

    def unfoolable(images):
        calls.append(1)
        return tf.stack([tf.reduce_sum(images, axis=[1, 2, 3]) * 0.0 + 5.0,
                         tf.zeros([tf.shape(images)[0]])], axis=1)

    images, labels = np.random.default_rng(1).uniform(size=(2, 4, 4, 1)), np.zeros(2, np.int32)
    counts = []
    for eps in (17, 40):
        calls.clear()
        result = ATTACKS["cornersearch"](unfoolable, images, labels, eps=eps, queries=1, n_max=4)
        counts.append(len(calls))
        np.testing.assert_array_equal(np.asarray(result.adversarial), images)
    assert counts[1] == counts[0]
