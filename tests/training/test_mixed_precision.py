"""``--mixed_precision``: a bfloat16 run computes in bfloat16, resumes to the uninterrupted
weights and exports a float32 classifier; float16 scales its loss; evaluation runs the loaded
model under its own policy."""

import os
import shutil
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.models.loading import load_model
from tf_fastls0.training.run import build_trainer, train_and_evaluate
from tf_fastls0.utils.cli import UsageError

sys.path.insert(0, os.path.dirname(__file__))
from test_resume import assert_same_final_state  # noqa: E402  (the resume tests' check)

BFLOAT16 = dict(mixed_precision="mixed_bfloat16")


@pytest.fixture(scope="module")
def bfloat16_run(tmp_path_factory, tiny_config):
    """A finished bfloat16 Fast-LS-l0 ``TINY`` run (2 epochs of 2 steps, ckpt-2 to ckpt-4)."""
    output_dir = tmp_path_factory.mktemp("bfloat16") / "whole"
    train_and_evaluate(tiny_config(output_dir, **BFLOAT16))
    return output_dir


def _batch(config):
    splits = data_lib.load_data(config.data)
    images = tf.constant(splits.train.float_images(slice(0, config.batch_size)))
    labels = tf.constant(splits.train.labels[:config.batch_size])
    return splits, (images, labels, tf.range(config.batch_size, dtype=tf.int64))


def test_a_bfloat16_trainer_computes_in_bfloat16_from_the_float32_initial_weights(tiny_config,
                                                                                   tmp_path):
    config = tiny_config(tmp_path, **BFLOAT16)
    splits, batch = _batch(config)
    trainer, _ = build_trainer(config, splits)
    plain, _ = build_trainer(tiny_config(tmp_path), splits)
    assert {layer.compute_dtype for layer in trainer.network.layers[1:-1]} == {"bfloat16"}
    assert trainer.network.layers[-1].compute_dtype == "float32"  # the logits
    assert all(v.dtype == "float32" for v in trainer.network.weights)
    for mixed, float32 in zip(trainer.network.weights, plain.network.weights):
        np.testing.assert_array_equal(mixed.numpy(), float32.numpy())
    logs = trainer.train_step(batch)
    assert int(trainer.optimizer.iterations.numpy()) == 1
    assert np.isfinite(float(logs["loss"])) and float(logs["gradient_norm"]) > 0
    assert trainer.buffer.rows.dtype == "float32"  # the soft labels
    assert not all(np.array_equal(a.numpy(), b.numpy())
                   for a, b in zip(trainer.network.weights, plain.network.weights))


@pytest.mark.slow
def test_a_bfloat16_run_resumes_to_the_uninterrupted_weights(bfloat16_run, tiny_config, tmp_path,
                                                             capsys):
    stopped = shutil.copytree(bfloat16_run, tmp_path / "stopped")
    for path in [stopped / "summary.json", stopped / "model.keras",
                 *(stopped / "checkpoints").glob("ckpt-[34].*")]:
        path.unlink()
    shutil.rmtree(stopped / "saved_model")
    (stopped / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
    train_and_evaluate(tiny_config(stopped, **BFLOAT16))
    assert "resuming from" in capsys.readouterr().out
    assert_same_final_state(bfloat16_run, stopped, step=4)


def test_a_bfloat16_run_exports_float32_and_its_checkpoint_loads_the_same(bfloat16_run):
    images = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    served = load_model(bfloat16_run, prefer="saved_model").model_fn(images)
    network = load_model(bfloat16_run, prefer="keras").network
    assert served.dtype == tf.float32
    assert {layer.dtype_policy.name for layer in network.layers} == {"float32"}
    assert network(images).dtype == tf.float32
    np.testing.assert_allclose(served.numpy(), network(images).numpy(), rtol=1e-5, atol=1e-5)
    checkpoint = load_model(str(bfloat16_run / "checkpoints" / "ckpt-4")).model_fn(images)
    np.testing.assert_allclose(checkpoint.numpy(), served.numpy(), rtol=1e-5, atol=1e-5)


def test_evaluation_runs_the_model_under_its_own_policy(bfloat16_run, tmp_path):
    from tf_fastls0.evaluation import EvalConfig, evaluate_model

    settings = dict(eps=2, iterations=2, attacks=("spgd_unproj",), n_examples=8, batch_size=8,
                    progress=False)
    report = evaluate_model(EvalConfig(model=str(bfloat16_run), output_dir=str(tmp_path / "e"),
                                       mixed_precision="mixed_bfloat16", **settings))
    assert report["complete"] and report["n_examples"] == 8
    with pytest.raises(UsageError, match="--mixed_precision=mixed_bfloat16 needs a Keras model"):
        evaluate_model(EvalConfig(model=str(bfloat16_run / "saved_model"),
                                  output_dir=str(tmp_path / "f"),
                                  mixed_precision="mixed_bfloat16", **settings))


def test_float16_scales_the_loss_and_a_skipped_step_still_counts(tiny_config, tmp_path):
    config = tiny_config(tmp_path, mixed_precision="mixed_float16")
    splits, batch = _batch(config)
    trainer, optimizer = build_trainer(config, splits)
    reference, _ = build_trainer(tiny_config(tmp_path), splits)
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert trainer.network.layers[1].compute_dtype == "float16"
    norm = float(trainer.train_step(batch)["gradient_norm"])
    expected = float(reference.train_step(batch)["gradient_norm"])
    np.testing.assert_allclose(norm, expected, rtol=0.05)  # unscaled, as in float32

    weights = [v.numpy() for v in trainer.network.trainable_variables]
    optimizer.dynamic_scale.assign(1e30)  # every scaled gradient overflows float16
    trainer.train_step(batch)
    assert int(optimizer.iterations.numpy()) == 2
    assert float(optimizer.dynamic_scale.numpy()) == pytest.approx(5e29, rel=1e-3)
    for before, variable in zip(weights, trainer.network.trainable_variables):
        np.testing.assert_array_equal(before, variable.numpy())
