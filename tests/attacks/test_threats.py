"""Structured threats: the group maps, and every attack over every structure (at most k structures,
values in [0, 1], shape and dtype kept, the report true to the model)."""

import dataclasses
from typing import Callable, NamedTuple

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import LOSSES, SURVIVED, sparse_autoattack, sparse_pgd, sparse_rs
from tf_fastls0.attacks.threats import THREATS, check_budget, make_threat
from tf_fastls0.utils.cli import UsageError

CLASSES = 4


def _threat(name, shape, patch_size=2, placement="anywhere", seed=0):
    group_map = None
    if name == "groups":
        group_map = np.random.default_rng(seed).integers(-1, 4, size=shape[:2])
        group_map[0, 0] = 2  # at least one group
    return make_threat(name, shape, patch_size=patch_size, placement=placement,
                       group_map=group_map)


def _batch(shape, batch, seed):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(batch, *shape)).astype(np.float32)
    return images, rng.integers(0, CLASSES, size=batch).astype(np.int32)


def test_memberships_are_the_structures():
    shape = (4, 5, 3)
    assert np.array_equal(make_threat("columns", shape).membership().reshape(5, 4, 5)[2],
                          np.eye(5, dtype=bool)[[2] * 4])
    assert np.array_equal(make_threat("rows", shape).membership().reshape(4, 4, 5)[1],
                          np.eye(4, dtype=bool)[:, [1] * 5])
    grid = make_threat("patches", shape, patch_size=2, placement="grid").membership()
    assert grid.shape == (2 * 3, 20) and np.all(grid.sum(axis=0) == 1)
    assert sorted(grid.sum(axis=1)) == [2, 2, 4, 4, 4, 4]  # the last column of tiles is cut
    anywhere = make_threat("patches", shape, patch_size=3).membership().reshape(-1, 4, 5)
    assert anywhere.shape[0] == 2 * 3
    assert np.array_equal(np.argwhere(anywhere[4]).min(0), [1, 1])  # row 1, column 1
    assert np.all(anywhere.sum(axis=(1, 2)) == 9)
    group_map = np.array([[5, 5, -1], [7, 5, -2]])
    groups = make_threat("groups", (2, 3, 1), group_map=group_map)
    assert groups.groups == 2
    np.testing.assert_array_equal(groups.membership(),
                                  [[1, 1, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0]])


@pytest.mark.parametrize("name, placement", [(n, "anywhere") for n in THREATS] +
                         [("patches", "grid")])
def test_to_groups_sums_each_groups_pixels(name, placement):
    threat = _threat(name, (5, 6, 1), patch_size=3, placement=placement)
    values = np.random.default_rng(1).uniform(size=(2, 5, 6, 1)).astype(np.float32)
    expected = values.reshape(2, -1) @ threat.membership().T.astype(np.float32)
    np.testing.assert_allclose(threat.to_groups(values).numpy(), expected, rtol=1e-5)


def test_a_user_error_is_one_usage_error(tmp_path):
    with pytest.raises(UsageError, match="group_map"):
        make_threat("groups", (4, 4, 3))
    np.save(tmp_path / "map.npy", np.zeros((3, 4), np.int64))
    with pytest.raises(UsageError, match="4x4"):
        make_threat("groups", (4, 4, 3), group_map=str(tmp_path / "map.npy"))
    with pytest.raises(UsageError, match="patch_size"):
        make_threat("patches", (4, 4, 3), patch_size=5)
    with pytest.raises(UsageError, match="--eval_eps=5 is more than the 4 columns"):
        check_budget(make_threat("columns", (4, 4, 3)), "eval_eps", 5)


# Every structure: each threat, and patches on a grid as well as anywhere.
STRUCTURES = tuple(THREATS) + ("grid",)


def _sparse_pgd(projected):
    def attack(model_fn, images, labels, threat, eps, seed, draw):
        variant = tf.constant(projected) if draw(st.booleans()) else projected
        targets = np.random.default_rng(seed).dirichlet(np.ones(CLASSES), len(images))
        result = sparse_pgd(model_fn, images, labels, eps=eps, iterations=draw(st.integers(0, 3)),
                            projected=variant, patience=draw(st.sampled_from([None, 1])),
                            seed=seed, threat=threat, loss=draw(st.sampled_from(LOSSES)),
                            soft_targets=targets.astype(np.float32),
                            target_labels=(labels + 1) % CLASSES)

        def agrees_with_the_model():
            np.testing.assert_allclose(result.logits.numpy(),
                                       model_fn(result.adversarial).numpy(), rtol=1e-3, atol=1e-3)
        return result.adversarial.numpy(), agrees_with_the_model
    return attack


def _sparse_rs(model_fn, images, labels, threat, eps, seed, draw):
    result = sparse_rs(model_fn, images, labels, eps=eps, queries=draw(st.integers(0, 20)),
                       seed=seed, threat=threat)

    def agrees_with_the_model():
        unfooled = ~result.is_adversarial.numpy()
        predictions = model_fn(result.adversarial).numpy().argmax(-1)
        np.testing.assert_array_equal(predictions[unfooled], labels[unfooled])
    return result.adversarial.numpy(), agrees_with_the_model


def _sparse_autoattack(model_fn, images, labels, threat, eps, seed, draw):
    result = sparse_autoattack(model_fn, images, labels, eps=eps,
                               iterations=draw(st.integers(0, 3)),
                               queries=draw(st.integers(0, 8)), seed=seed, threat=threat,
                               compiled=False)

    def agrees_with_the_model():
        predictions = model_fn(result.adversarial).numpy().argmax(-1)
        np.testing.assert_array_equal(result.broken_by == SURVIVED, predictions == labels)
    return result.adversarial, agrees_with_the_model


ATTACKS = {"spgd_unprojected": _sparse_pgd(False), "spgd_projected": _sparse_pgd(True),
           "sparse_rs": _sparse_rs, "sparse_autoattack": _sparse_autoattack}


class Attacked(NamedTuple):
    threat: object
    images: np.ndarray
    eps: int
    adversarial: np.ndarray
    agrees_with_the_model: Callable[[], None]  # what the attack reports is true of its images


def _attacked(mlp, attack, data):
    """``attack`` on a drawn batch under a drawn structure."""
    structure = data.draw(st.sampled_from(STRUCTURES), label="structure")
    height, width = data.draw(st.integers(2, 6)), data.draw(st.integers(2, 6))
    eps, seed = data.draw(st.integers(0, 3), label="eps"), data.draw(st.integers(0, 99))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shape = (height, width, 3)
    threat = _threat("patches" if structure == "grid" else structure, shape,
                     data.draw(st.integers(1, min(3, height, width)), label="patch_size"),
                     "grid" if structure == "grid" else "anywhere", seed)
    images, labels = _batch(shape, data.draw(st.integers(1, 3), label="batch"), seed)
    images = images.astype(dtype)
    model_fn = mlp(shape, CLASSES, seed)
    return Attacked(threat, images, eps,
                    *ATTACKS[attack](model_fn, images, labels, threat, eps, seed, data.draw))


PROPERTY = settings(max_examples=10, deadline=None)


@pytest.mark.parametrize("attack", ATTACKS)
@PROPERTY
@given(data=st.data())
def test_the_changed_pixels_lie_in_at_most_k_structures(mlp, invariants, attack, data):
    attacked = _attacked(mlp, attack, data)
    invariants.within_k_structures(attacked.adversarial, attacked.images, attacked.threat,
                                   attacked.eps)


@pytest.mark.parametrize("attack", ATTACKS)
@PROPERTY
@given(data=st.data())
def test_the_values_stay_in_the_unit_interval(mlp, invariants, attack, data):
    invariants.values_in_unit_interval(_attacked(mlp, attack, data).adversarial)


@pytest.mark.parametrize("attack", ATTACKS)
@PROPERTY
@given(data=st.data())
def test_the_shape_and_dtype_are_kept(mlp, invariants, attack, data):
    attacked = _attacked(mlp, attack, data)
    invariants.shape_and_dtype_kept(attacked.adversarial, attacked.images)


@pytest.mark.parametrize("attack", ATTACKS)
@PROPERTY
@given(data=st.data())
def test_what_the_attack_reports_agrees_with_the_model_on_its_images(mlp, attack, data):
    _attacked(mlp, attack, data).agrees_with_the_model()


@pytest.mark.parametrize("projected", [False, True])
def test_the_group_code_over_single_pixels_is_the_pixel_attack(mlp, projected):
    """The structured sPGD, given the pixel map as if it were a user's groups, returns exactly the
    pixel sPGD's images: the group code adds nothing to the algorithm but the map."""
    shape = (5, 6, 3)
    images, labels = _batch(shape, 4, seed=3)
    model_fn = mlp(shape, CLASSES, 3)
    pixels_as_groups = dataclasses.replace(make_threat("pixels", shape), name="groups")
    arguments = dict(eps=4, iterations=6, projected=projected, patience=1, seed=5)
    pixel = sparse_pgd(model_fn, images, labels, **arguments)
    grouped = sparse_pgd(model_fn, images, labels, threat=pixels_as_groups, **arguments)
    np.testing.assert_array_equal(grouped.adversarial.numpy(), pixel.adversarial.numpy())
    np.testing.assert_array_equal(grouped.passes.numpy(), pixel.passes.numpy())


def _column_sensitive_model(shape):
    """Four classes read from the mean of column 0 only: only an attack on column 0 can fool."""
    def model_fn(images):
        column = tf.reduce_mean(tf.cast(images, tf.float32)[:, :, 0, :], axis=[1, 2])
        return tf.stack([(column - centre) * -((column - centre)) * 40.0
                         for centre in (0.1, 0.4, 0.6, 0.9)], axis=1)
    return model_fn


@pytest.mark.parametrize("threat_name", ["columns", "rows"])
def test_the_cascade_attacks_through_the_threats_structures(assert_structured_image, threat_name):
    """A model that reads column 0 alone falls to one column, and to one row only where that row
    moves column 0's mean across a class boundary; every stage stays inside its structures."""
    shape = (6, 6, 3)
    images = np.full((8, *shape), 0.42, np.float32)
    images[:, :, 0, :] = np.linspace(0.35, 0.45, 8)[:, None, None]
    model_fn = _column_sensitive_model(shape)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    threat = make_threat(threat_name, shape)
    result = sparse_autoattack(model_fn, images, labels, eps=1, iterations=20, queries=30,
                               threat=threat, compiled=False)
    assert_structured_image(result.adversarial, images, threat, 1)
    assert result.report["settings"]["eps_unit"] == threat_name
    predictions = model_fn(result.adversarial).numpy().argmax(-1)
    np.testing.assert_array_equal(predictions != labels, result.broken_by >= 0)
    if threat_name == "columns":
        assert np.all(result.broken_by > 0)


def test_stages_that_attack_pixels_only_are_refused_for_a_structured_threat(mlp):
    shape = (4, 4, 3)
    images, labels = _batch(shape, 2, seed=0)
    with pytest.raises(ValueError, match="saif attack pixels only"):
        sparse_autoattack(mlp(shape), images, labels, eps=1, iterations=2, queries=2,
                          attacks=("spgd_proj", "saif"), threat=make_threat("columns", shape))
