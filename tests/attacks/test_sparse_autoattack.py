"""Sparse-AutoAttack (SPEC §4): invariants, the cascade's bookkeeping, survivors-only stages."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import (ATTACKS, CLEAN_MISTAKE, STAGE_CODES, STAGES, SURVIVED,
                                SparseAutoAttack, resolve_stages, sparse_autoattack)

CLASSES = 4


def _data(shape, count, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(count, *shape)).astype(np.float32)


def _batches(images, labels, size):
    return [(images[i:i + size], labels[i:i + size]) for i in range(0, len(images), size)]


@settings(max_examples=15, deadline=None)
@given(count=st.integers(1, 6), height=st.integers(1, 6), width=st.integers(1, 6),
       channels=st.sampled_from([1, 3]), eps=st.integers(0, 8), iterations=st.integers(0, 3),
       queries=st.integers(0, 8),
       attacks=st.sampled_from(["saa", "spgd_proj", ("rs", "spgd_unproj")]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
def test_output_is_a_sparse_image(mlp, assert_sparse_image, count, height, width, channels, eps,
                                  iterations, queries, attacks, dtype, seed):
    shape = (height, width, channels)
    images = _data(shape, count, seed).astype(dtype)
    labels = np.random.default_rng(seed).integers(0, CLASSES, size=count).astype(np.int32)
    model_fn = mlp(shape, CLASSES, seed)
    result = sparse_autoattack(model_fn, batches=_batches(images, labels, 4), eps=eps,
                               iterations=iterations, queries=queries, attacks=attacks, seed=seed,
                               compiled=False)
    assert_sparse_image(result.adversarial, images, eps)
    assert result.broken_by.shape == (count,)
    predictions = model_fn(result.adversarial).numpy().argmax(-1)
    clean_correct = model_fn(images).numpy().argmax(-1) == labels
    np.testing.assert_array_equal(result.broken_by == CLEAN_MISTAKE, ~clean_correct)
    np.testing.assert_array_equal(result.broken_by == SURVIVED, predictions == labels)
    assert result.report["robust_accuracy"] == pytest.approx(np.mean(predictions == labels))


def _attackable(mlp):
    shape = (6, 6, 3)
    model_fn = mlp(shape, CLASSES, seed=21)
    images = _data(shape, 24, seed=21)
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    labels[:3] = (labels[:3] + 1) % CLASSES  # three clean mistakes
    return model_fn, images, labels


BUDGET = {"eps": 1, "iterations": 4, "queries": 12, "seed": 3}


@pytest.mark.slow
def test_cascade_is_never_weaker_than_any_single_stage(mlp):
    model_fn, images, labels = _attackable(mlp)
    full = sparse_autoattack(model_fn, batches=_batches(images, labels, 10), **BUDGET)
    survived = full.broken_by == SURVIVED
    assert 0 < survived.sum() < full.report["survivors"]["clean"]  # an informative case
    for name in STAGES:
        alone = sparse_autoattack(model_fn, batches=_batches(images, labels, 10), attacks=name,
                                  **BUDGET)
        assert full.report["robust_accuracy"] <= alone.report["robust_accuracy"]
        # Keyed randomness: a stage does to an image in the cascade what it does alone.
        assert np.all(alone.broken_by[survived] == SURVIVED)
    counts = [full.report["survivors"][key] for key in ("clean",) + STAGES]
    assert counts == sorted(counts, reverse=True)
    assert counts[-1] == survived.sum()


def _recording(model_fn, shape, calls):
    """model_fn that also appends every batch it sees to ``calls`` (works inside tf.function)."""

    def record(images):
        calls.append(images.copy())
        return images

    def recorded(images):
        seen = tf.ensure_shape(tf.numpy_function(record, [images], images.dtype), [None, *shape])
        return model_fn(images + tf.stop_gradient(seen - images))  # the gradient skips numpy

    return recorded


def test_each_stage_attacks_only_the_survivors_of_the_stages_before(mlp):
    model_fn, images, labels = _attackable(mlp)
    calls, stage_calls = [], []
    result = sparse_autoattack(
        _recording(model_fn, images.shape[1:], calls), images, labels, **BUDGET,
        progress=lambda event: stage_calls.append((event["stage"], len(calls))))
    eps = BUDGET["eps"]

    def owners(batch):
        """For each image the model saw, the clean image it is within eps pixels of."""
        changed = np.any(batch[:, None] != images[None], axis=-1).sum(axis=(2, 3))
        assert np.all((changed <= eps).sum(axis=1) == 1)
        return np.argmax(changed <= eps, axis=1)

    def is_clean_pass(batch):
        return np.array_equal(batch, images[:len(batch)])

    begin = 0
    for name, end in stage_calls:
        attacked = np.unique(np.concatenate(
            [owners(batch) for batch in calls[begin:end] if not is_clean_pass(batch)]))
        before = [STAGE_CODES[other] for other in STAGES[:STAGES.index(name)]]
        assert not np.isin(result.broken_by[attacked], [CLEAN_MISTAKE] + before).any(), name
        begin = end
    assert np.isin(result.broken_by, [1]).any() and np.isin(result.broken_by, [2, 3, -1]).any()


def test_broken_images_are_really_misclassified_and_the_rest_are_clean(mlp):
    model_fn, images, labels = _attackable(mlp)
    result = sparse_autoattack(model_fn, batches=_batches(images, labels, 7), **BUDGET)
    predictions = model_fn(result.adversarial).numpy().argmax(-1)
    broken = np.isin(result.broken_by, list(STAGE_CODES.values()))
    assert np.all(predictions[broken] != labels[broken])
    kept = ~broken
    np.testing.assert_array_equal(result.adversarial[kept], images[kept])


@pytest.mark.slow
def test_splitting_the_stream_differently_changes_nothing(mlp):
    model_fn, images, labels = _attackable(mlp)
    one = sparse_autoattack(model_fn, images, labels, **BUDGET)
    three = sparse_autoattack(model_fn, batches=_batches(images, labels, 8), **BUDGET)
    np.testing.assert_array_equal(one.broken_by, three.broken_by)
    np.testing.assert_allclose(one.adversarial, three.adversarial, atol=1e-6)


@pytest.mark.slow
def test_a_kept_cascade_traces_once_and_attacks_as_a_fresh_one(mlp):
    model_fn, images, labels = _attackable(mlp)
    python_calls = []

    def counted_model_fn(batch):
        python_calls.append(1)  # a compiled function calls it only while tracing
        return model_fn(batch)

    cascade = SparseAutoAttack(counted_model_fn, **BUDGET)
    first = cascade(_batches(images, labels, 10), attacks="saa")
    traced = len(python_calls)
    # Other attack subsets, batch sizes and images afterwards: no new trace, the same answers.
    second = [cascade(_batches(images[i:i + 8], labels[i:i + 8], 5), attacks=name)
              for i, name in zip((0, 8, 16), STAGES)]
    assert len(python_calls) == traced
    for i, name, result in zip((0, 8, 16), STAGES, second):
        fresh = sparse_autoattack(model_fn, images[i:i + 8], labels[i:i + 8], attacks=name,
                                  **BUDGET)
        np.testing.assert_array_equal(result.broken_by, fresh.broken_by)
    np.testing.assert_array_equal(
        first.broken_by, sparse_autoattack(model_fn, images, labels, **BUDGET).broken_by)


def test_report_records_the_settings_and_progress_is_reported(mlp):
    model_fn, images, labels = _attackable(mlp)
    events = []
    report = sparse_autoattack(model_fn, batches=_batches(images, labels, 10), attacks="rs",
                               progress=events.append, **BUDGET).report
    assert report["settings"] == {"eps": 1, "iterations": 4, "queries": 12, "n_images": 24,
                                  "seed": 3, "attacks": ["rs"], "patience": 3,
                                  "threat": "pixels", "eps_unit": "pixels"}
    assert report["clean_accuracy"] == pytest.approx(21 / 24)
    assert set(report["seconds"]) == {"rs"} and report["seconds"]["rs"] > 0
    assert [(e["batch"], e["stage"], e["images_done"]) for e in events] == [
        (0, "rs", 10), (1, "rs", 20), (2, "rs", 24)]


def test_zero_budget_returns_the_input(mlp):
    model_fn, images, labels = _attackable(mlp)
    result = sparse_autoattack(model_fn, images, labels, eps=0, iterations=3, queries=3)
    np.testing.assert_array_equal(result.adversarial, images)
    assert result.report["robust_accuracy"] == result.report["clean_accuracy"]


def test_attack_names_resolve_and_unknown_ones_are_refused():
    assert resolve_stages("saa") == STAGES
    assert resolve_stages("spgd_proj") == ("spgd_proj",)
    assert resolve_stages(["rs", "spgd_unproj"]) == ("rs", "spgd_unproj")
    assert resolve_stages("cornersearch") == ("cornersearch",)
    with pytest.raises(ValueError):
        resolve_stages("no_such_attack")


# sigma-zero is minimum-norm: it returns the fewest pixels it found, whatever the budget.
@pytest.mark.parametrize("name", sorted(set(ATTACKS) - {"sigma_zero"}))
def test_every_registered_attack_runs_and_respects_the_budget(mlp, assert_sparse_image, name):
    model_fn, images, labels = _attackable(mlp)
    settings = {"saa": {"iterations": 2, "queries": 4}, "rs": {"queries": 4},
                "cornersearch": {"queries": 4}}.get(name, {"iterations": 2})
    adversarial = np.asarray(ATTACKS[name](model_fn, images, labels, eps=2, **settings).adversarial)
    assert_sparse_image(adversarial, images, 2)
    assert np.any(adversarial != images)


@pytest.mark.parametrize("name", sorted(STAGE_CODES))
def test_every_stage_of_the_table_runs_in_the_cascade_within_the_budget(mlp, assert_sparse_image,
                                                                         name):
    model_fn, images, labels = _attackable(mlp)
    result = sparse_autoattack(model_fn, images, labels, eps=3, iterations=30, queries=20,
                               attacks=name)
    assert_sparse_image(result.adversarial, images, 3)
    assert set(result.broken_by) <= {CLEAN_MISTAKE, SURVIVED, STAGE_CODES[name]}
    broken = result.broken_by == STAGE_CODES[name]
    assert broken.any()
    predictions = np.argmax(model_fn(result.adversarial).numpy(), axis=-1)
    np.testing.assert_array_equal(predictions != labels, result.broken_by >= 0)
