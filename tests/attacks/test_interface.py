"""One attack interface (``attacks.common``): every attack in ``attacks.ATTACKS`` takes a Keras
model or a plain callable, numpy arrays or tensors, and gives the same result either way."""

import importlib
import inspect
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.attacks import ATTACKS, paper_budget, sparse_autoattack
from tf_fastls0.attacks.threats import make_threat

SHAPE, CLASSES, BATCH = (5, 5, 3), 4, 6
# Small settings under each attack's shared keyword names (``iterations``, ``queries``).
SETTINGS = {
    "spgd_unproj": {"iterations": 6},
    "spgd_proj": {"iterations": 6},
    "rs": {"queries": 12},
    "saa": {"iterations": 4, "queries": 8},
    "cornersearch": {"queries": 4, "n_max": 10},
    "saif": {"iterations": 6},
    "sigma_zero": {"iterations": 8},
}


@pytest.fixture(scope="module")
def keras_model():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(CLASSES)])
    rng = np.random.default_rng(4)
    images = rng.uniform(size=(BATCH, *SHAPE)).astype(np.float32)
    labels = np.argmax(model(images).numpy(), axis=-1).astype(np.int32)
    return model, images, labels


def test_the_registry_names_every_attack():
    assert set(ATTACKS) == set(SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_keras_model_and_callable_numpy_and_tensors_agree(keras_model, name):
    model, images, labels = keras_model
    attack = ATTACKS[name]
    callable_fn = lambda x: model(x, training=False)  # noqa: E731
    results = [attack(model, images, labels, eps=3, seed=1, **SETTINGS[name]),
               attack(callable_fn, images, labels, eps=3, seed=1, **SETTINGS[name]),
               attack(model, tf.constant(images), tf.constant(labels), eps=3, seed=1,
                      **SETTINGS[name])]
    first = np.asarray(results[0].adversarial)
    assert np.any(first != images)  # the comparison is informative only if something changed
    for other in results[1:]:
        np.testing.assert_array_equal(np.asarray(other.adversarial), first)
        np.testing.assert_array_equal(np.asarray(other.is_adversarial),
                                      np.asarray(results[0].is_adversarial))


@pytest.mark.parametrize("name", ["cornersearch", "saif", "sigma_zero"])
def test_pixel_only_attacks_refuse_a_structured_threat(keras_model, name):
    model, images, labels = keras_model
    threat = make_threat("patches", SHAPE[:2], patch_size=2)
    with pytest.raises(ValueError, match=f"{name} attacks pixels only"):
        ATTACKS[name](model, images, labels, eps=1, threat=threat, **SETTINGS[name])


@pytest.mark.parametrize("name", ["spgd_unproj", "saif", "sigma_zero"])
def test_the_old_steps_keyword_still_works_and_warns(keras_model, name):
    model, images, labels = keras_model
    new = ATTACKS[name](model, images, labels, eps=2, iterations=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = ATTACKS[name](model, images, labels, eps=2, steps=3)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    np.testing.assert_array_equal(np.asarray(old.adversarial), np.asarray(new.adversarial))


def test_the_old_positional_stream_of_batches_still_works_and_warns(keras_model):
    model, images, labels = keras_model
    settings = dict(eps=2, iterations=3, queries=4, compiled=False)
    new = ATTACKS["saa"](model, images, labels, **settings)
    with pytest.warns(DeprecationWarning):
        old = ATTACKS["saa"](model, [(images, labels)], **settings)
    np.testing.assert_array_equal(old.broken_by, new.broken_by)
    np.testing.assert_array_equal(old.adversarial, new.adversarial)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_a_budget_that_is_not_a_count_is_refused(keras_model, name):
    model, images, labels = keras_model
    with pytest.raises(ValueError, match="eps"):
        ATTACKS[name](model, images, labels, eps=-1, **SETTINGS[name])



@pytest.mark.parametrize("old, name", [("sparse_pgd", "spgd_unproj"), ("sparse_rs", "rs"),
                                       ("sparse_autoattack", "saa")])
def test_the_old_function_names_still_find_their_attack_and_warn(old, name):
    with pytest.warns(DeprecationWarning, match=f"use ATTACKS\\['{name}'\\]"):
        assert ATTACKS[old] is ATTACKS[name]
    assert old not in set(ATTACKS)  # one vocabulary: the names --attacks takes


def test_the_registry_is_what_the_evaluation_accepts():
    from tf_fastls0.evaluation import ATTACK_NAMES

    assert tuple(ATTACK_NAMES) == tuple(ATTACKS)


def _default(function, keyword):
    return inspect.signature(function).parameters[keyword].default


def test_every_attack_defaults_to_its_papers_budget():
    # The modules (the package's names are the functions).
    cornersearch, saif, sigma_zero = (importlib.import_module(f"tf_fastls0.attacks.{name}")
                                      for name in ("cornersearch", "saif", "sigma_zero"))
    expected = {"spgd_unproj": ("iterations", paper_budget.ITERATIONS),
                "spgd_proj": ("iterations", paper_budget.ITERATIONS),
                "rs": ("queries", paper_budget.QUERIES),
                "cornersearch": ("queries", cornersearch.QUERIES),
                "saif": ("iterations", saif.DEFAULT_STEPS),
                "sigma_zero": ("iterations", sigma_zero.DEFAULT_STEPS)}
    assert set(expected) | {"saa"} == set(ATTACKS)
    for name, (keyword, budget) in expected.items():
        assert _default(ATTACKS[name].function, keyword) == budget, name
    assert (paper_budget.ITERATIONS, paper_budget.QUERIES) == (10_000, 10_000)
    assert _default(sparse_autoattack, "iterations") == paper_budget.ITERATIONS
    assert _default(sparse_autoattack, "queries") == paper_budget.QUERIES
    assert _default(sparse_autoattack, "patience") == paper_budget.PATIENCE == 3


def _near_the_line(images):
    """Class 1 when an image's mean brightness is above 0.5: darkening any pixel of the images
    below (brightness 0.505) fools it, so even the paper's budgets stop at once."""
    mean = tf.reduce_mean(images, axis=[1, 2, 3])
    return tf.stack([0.5 - mean, mean - 0.5], axis=-1) * 100.0


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_attack_runs_with_eps_alone(name):
    images = np.full((2, 8, 8, 3), 0.505, np.float32)
    labels = np.ones(2, np.int32)
    result = ATTACKS[name](_near_the_line, images, labels, eps=2)
    adversarial = np.asarray(result.adversarial)
    assert np.all(np.asarray(result.is_adversarial))
    assert np.all(np.sum(np.any(adversarial != images, axis=-1), axis=(1, 2)) <= 2)
