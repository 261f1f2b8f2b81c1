"""Every training method, end to end, and the SAT buffer as the trainer keeps it."""

import contextlib
import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer, train_and_evaluate

SMALL = dict(model="small_cnn", width=0.25, epochs=1, batch_size=16, train_eps=4, eval_eps=4,
             val_robust_examples=8, val_attack_iterations=2, verbose=0,
             data=data_lib.DataConfig(max_train_examples=32, max_eval_examples=16))


@pytest.mark.parametrize("method, extra", [
    ("standard", {}),
    ("sparse_at", {}),
    ("sat", {"attack_steps": 3, "soft_labels": "sat", "soft_label_start_epoch": 0}),  # the old names
    ("tradeoff", {"nfgsm_noise": True}),
    ("strades", {"trades_mode": "F"}),
    ("fast_ls_l0", {"soft_label_start_epoch": 0}),
    ("fast_ls_l0", {"trades_mode": "F", "soft_label_attack_target": "hard", "soft_label_start_epoch": 0}),
    ("mart", {}),
    ("label_smoothing", {"soft_labels": "self_adaptive", "nfgsm_noise": True, "soft_label_start_epoch": 0}),
    ("nuat", {"nuat_ramp_epochs": 1}),
    ("advlc", {"advlc_top": 1.0}),
    ("grad_align", {"soft_labels": "self_adaptive", "nfgsm_noise": True, "soft_label_start_epoch": 0}),
    ("sparse_at", {"awp_enabled": True}),
    ("atta", {"augment": True}),
    ("n_aaer", {}),
    ("n_lap", {"lap_beta": 0.05}),
    ("fast_bat", {"soft_labels": "self_adaptive", "soft_label_start_epoch": 0}),
])
def test_every_method_trains_two_steps(method, extra):
    old_names = method == "sat"  # still accepted, with a warning naming the new ones
    with pytest.warns(DeprecationWarning, match="is deprecated") if old_names else \
            contextlib.nullcontext():
        config = TrainConfig(**SMALL, method=method, **extra)
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    batches = data_lib.training_dataset(splits.train, config.batch_size, 1, config.seed,
                                        augment=config.augment)
    history = trainer.fit(batches, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    for name in trainer.recipe.logged_means:
        assert name in history.history  # the objective's and add-ons' own log names
    if method != "standard":
        assert "adversarial_accuracy" in history.history


# The export and the final evaluation are the same for every method: a few methods whose
# trainers carry extra state (soft labels, ATTA's buffer, AWP) stand for the rest. Fast-LS-l0's
# run is the one test_final_evaluation_runs_sparse_autoattack_on_the_export trains.
@pytest.mark.parametrize("method, extra", [
    ("standard", {}),
    ("atta", {"augment": True, "awp_enabled": True}),
])
def test_a_trained_run_exports_both_formats_and_reports_robust_below_clean(method, extra,
                                                                            tmp_path):
    config = TrainConfig(**SMALL, method=method, output_dir=str(tmp_path), **extra)
    check_exports(config, train_and_evaluate(config))


def check_exports(config, summary):
    """Both exports hold the trained network; robust accuracy is below clean accuracy."""
    folder = pathlib.Path(config.output_dir)
    assert np.isfinite(summary["final_metrics"]["loss"])
    images = data_lib.load_data(config.data).test.float_images()
    saved_model = tf.saved_model.load(str(folder / "saved_model"))
    served = saved_model.serve(images)
    reloaded = keras.saving.load_model(str(folder / "model.keras"))(images, training=False)
    np.testing.assert_allclose(served, reloaded, atol=1e-4)  # both exports hold the trained net
    if config.method != "standard":
        # A clean mistake counts as a robust failure, so robust accuracy cannot exceed clean.
        assert summary["robust_accuracy_validation"] <= summary["clean_accuracy"] + 1e-6
        assert "adversarial_accuracy" in summary["final_metrics"]


def sat_trainer(soft_label_start_epoch):
    splits = data_lib.load_data(data_lib.DataConfig(max_train_examples=32, max_eval_examples=8))
    # float32 on every CPU (auto is bfloat16 on one with AVX512-BF16 or AMX): the rows are
    # compared with a separate forward pass's within float32 rounding
    config = TrainConfig(**{**SMALL, "epochs": 2}, method="tradeoff",
                         soft_labels="self_adaptive", soft_label_start_epoch=soft_label_start_epoch,
                         soft_label_momentum=0.9, mixed_precision="off")
    trainer, _ = build_trainer(config, splits)
    return trainer, splits, config


def one_hot(labels):
    return np.eye(10, dtype=np.float32)[labels]


def test_sat_rows_stay_one_hot_before_the_start_epoch_then_follow_the_moving_average():
    trainer, splits, config = sat_trainer(soft_label_start_epoch=1)
    buffer = trainer.buffer.rows
    epoch0 = data_lib.training_dataset(splits.train, 16, epochs=1, seed=0, augment=False)
    trainer.fit(epoch0, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    np.testing.assert_array_equal(buffer.numpy(), one_hot(splits.train.labels))

    images, labels, indices = next(iter(epoch0))
    clean = tf.nn.softmax(trainer.network(images, training=True)).numpy()
    trainer.fit(tf.data.Dataset.from_tensors((images, labels, indices)), epochs=1, verbose=0)
    rows = buffer.numpy()
    expected = 0.9 * one_hot(labels.numpy()) + 0.1 * clean
    np.testing.assert_allclose(rows[indices.numpy()], expected, atol=1e-5)
    untouched = np.setdiff1d(np.arange(32), indices.numpy())
    np.testing.assert_array_equal(rows[untouched], one_hot(splits.train.labels)[untouched])


def test_sat_rows_survive_a_checkpoint_round_trip(tmp_path):
    trainer, splits, _ = sat_trainer(soft_label_start_epoch=0)
    dataset = data_lib.training_dataset(splits.train, 16, epochs=1, seed=0, augment=False)
    trainer.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    saved = trainer.buffer.rows.numpy()
    assert not np.allclose(saved, one_hot(splits.train.labels))
    path = tf.train.Checkpoint(**trainer.checkpoint_items()).save(str(tmp_path / "ckpt"))
    fresh, _, _ = sat_trainer(soft_label_start_epoch=0)
    tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path).assert_consumed()
    np.testing.assert_array_equal(fresh.buffer.rows.numpy(), saved)


# Each case is "METHOD[:key=value,...]" (tests/training/replica_equivalence.py). The default
# selection runs one case with soft labels (Fast-LS-l0) and one with carried rows (ATTA); the
# rest are in the slow selection.
SLOW = pytest.mark.slow
REPLICA_CASES = [
    "fast_ls_l0",
    pytest.param("strades:trades_mode=F,soft_labels=self_adaptive,attack_iterations=3", marks=SLOW),
    pytest.param("grad_align:soft_labels=self_adaptive,nfgsm_noise=True", marks=SLOW),
    # Adam's first steps are about lr * sign(g): the conv biases before BatchNorm, whose gradient
    # is 0 up to rounding, would move by +-lr on rounding alone (measured 0.13), so AdamW is
    # checked without BatchNorm (4.5e-5 after 3 steps that move the weights by 0.14).
    pytest.param("fast_ls_l0:optimizer=adamw,lr_schedule=cosine,weight_decay=0.05,"
                 "model=small_cnn_nobn", marks=SLOW),
    pytest.param("fast_ls_l0:awp_enabled=True,awp_gamma=0.005", marks=SLOW),
    "atta:soft_labels=self_adaptive,nfgsm_noise=True",
    pytest.param("n_aaer", marks=SLOW),
    pytest.param("n_lap:lap_beta=0.05", marks=SLOW),
    pytest.param("fast_bat:fast_bat_weight=0.5", marks=SLOW),
]


@pytest.mark.parametrize("case", REPLICA_CASES)
def test_one_replica_and_two_replicas_give_the_same_update(case):
    # small_cnn has BatchNorm: with two replicas --sync_batchnorm defaults to on, so batch
    # statistics are those of the global batch, as on one device. What remains is float
    # summation order (synchronised moments are all-reduced sums), which the attack's top-k
    # choices can amplify: measured 1.1e-4 after 3 steps that move the weights by 0.47
    # (fast_ls_l0), against 1.6e-2 with per-replica statistics (--nosync_batchnorm).
    # One process per case: the two logical CPUs must be set before TensorFlow starts, and
    # several mirrored trainers in one process mix up their collectives.
    script = "tests/training/replica_equivalence.py"
    repo = pathlib.Path(__file__).resolve().parents[2]  # this checkout's package, not an install
    result = subprocess.run([sys.executable, script, case], capture_output=True, text=True,
                            timeout=600, cwd=repo, env=dict(os.environ, PYTHONPATH=str(repo)))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])[case]
    assert report["weight_change"] > 1e-1  # the steps did move the weights
    assert report["weight_difference"] < 1e-3
    if report["buffer_rows_moved"] is not None:  # the method has soft labels
        assert report["buffer_rows_moved"] > 0
        assert report["buffer_difference"] < 1e-4
    if case.startswith("atta"):
        assert report["carried_rows_stored"] == 48  # the 3 steps' examples
        assert report["carried_difference"] < 1e-4


def test_final_evaluation_runs_sparse_autoattack_on_the_export(tmp_path, monkeypatch):
    from tf_fastls0.evaluation import budgets

    monkeypatch.setitem(budgets.BUDGETS, "saa_quick",
                        {"attacks": ("saa",), "iterations": 3, "queries": 5, "n_examples": 16})
    config = TrainConfig(**SMALL, method="fast_ls_l0", soft_label_start_epoch=0,
                         output_dir=str(tmp_path), final_eval="saa_quick")
    summary = train_and_evaluate(config)
    check_exports(config, summary)  # Fast-LS-l0's case of the test above
    final = summary["final_eval"]
    report = json.loads((tmp_path / "final_eval_saa_quick" / "report.json").read_text())
    assert final["robust_acc"] == report["robust_acc"] <= final["clean_acc"] == report["clean_acc"]
    assert report["k"] == 4 and report["n_examples"] == 16 and report["threat_model"] == "L0"


@pytest.mark.slow
def test_standard_training_learns_the_built_in_data_well_above_chance(tmp_path):
    # shapes10 has 10 balanced classes (chance 10 %). Measured with these settings: 54 / 60 / 67 %
    # validation accuracy for seeds 0 / 1 / 2 (about 20 s on 2 cores).
    config = TrainConfig(model="small_cnn", epochs=8, batch_size=32, val_robust_examples=0,
                         verbose=0, output_dir=str(tmp_path),
                         data=data_lib.DataConfig(max_train_examples=2000, max_eval_examples=500))
    assert train_and_evaluate(config)["clean_accuracy"] >= 0.4


@pytest.mark.parametrize("method", ["n_aaer", "sparse_at"])
def test_n_aaer_trains_on_the_attacks_last_iterate_and_sparse_at_on_its_best(method, monkeypatch):
    config = TrainConfig(**SMALL, method=method)
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    images, labels, indices = next(iter(data_lib.training_dataset(
        splits.train, 16, 1, config.seed, augment=False)))
    results = []
    real = recipe_lib.sparse_pgd

    def spy(model_fn, start, *args, **kwargs):
        results.append((np.asarray(start), real(model_fn, start, *args, **kwargs)))
        return results[-1][1]

    monkeypatch.setattr(recipe_lib, "sparse_pgd", spy)
    batch = recipe_lib.prepare(trainer.recipe, trainer.network, {}, images, labels, indices,
                               tf.constant(0, tf.int64), 2)
    (start, result), = results
    mask, magnitude = (np.asarray(t) for t in result.last_iterate)
    iterate = start + mask * magnitude  # x + m * p: the step's image, kept or not
    best = np.asarray(result.adversarial)
    returned_start = np.all(best == start, axis=(1, 2, 3))
    assert returned_start.any()  # best-tracking kept the start of some images ...
    assert np.all(np.any(iterate != start, axis=(1, 2, 3)))  # ... whose iterate moved
    assert np.all(mask.sum(axis=(1, 2, 3)) <= config.train_eps)
    assert iterate.min() >= 0 and iterate.max() <= 1
    expected = iterate if method == "n_aaer" else best
    np.testing.assert_allclose(batch.adversarial, expected, atol=1e-6)
