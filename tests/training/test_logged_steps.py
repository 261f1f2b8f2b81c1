"""Work only logging needs runs only on the steps that log, and the batch-hook callbacks count
steps without reading the device: the gradient norm where it is logged, the weights, the step
summaries, step checkpoints and the Ctrl-C stop are what they were."""

import glob
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.training import callbacks as callbacks_lib
from tf_fastls0.training.run import build_trainer, make_checkpoint
from tf_fastls0.utils.interrupts import StopRequest


def _trainer_and_batch(config):
    splits = data_lib.load_data(config.data)
    trainer, optimizer = build_trainer(config, splits)
    images = tf.constant(splits.train.float_images(slice(0, config.batch_size)))
    labels = tf.constant(splits.train.labels[:config.batch_size])
    return splits, trainer, optimizer, (images, labels, tf.range(config.batch_size, dtype=tf.int64))


def test_the_gradient_norm_is_computed_on_logged_steps_and_the_weights_do_not_change(
        tiny_config, tmp_path):
    config = tiny_config(tmp_path)  # 2 steps per epoch
    _, every_step, _, batch = _trainer_and_batch(config)
    _, logged_only, _, _ = _trainer_and_batch(config)
    logged_only.log_every_steps = 3  # logs after steps 3, 6, ... and each epoch's last: 2, 4, ...
    step_a, step_b = tf.function(every_step.train_step), tf.function(logged_only.train_step)
    latest = 0.0
    for done in range(1, 7):
        want, got = float(step_a(batch)["gradient_norm"]), float(step_b(batch)["gradient_norm"])
        assert want > 0
        if done % 3 == 0 or done % 2 == 0:
            assert got == want, done  # computed: this step's exact norm
            latest = got
        else:
            assert got == latest, done  # the latest computed one stands in (0 before any)
        for a, b in zip(every_step.network.weights, logged_only.network.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def _scalar_steps(log_dir, tag):
    steps = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    steps[event.step] = float(tf.make_ndarray(value.tensor))
    return steps


def _run_callbacks(manager, log_dir, request, every_steps=0):
    """The batch-hook callbacks of a training run, as ``run.py`` lists them."""
    checkpointing = callbacks_lib.Checkpointing(manager, every_steps)
    return [callbacks_lib.StopWhenRequested(request, checkpointing),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(log_dir, update_freq="epoch", write_graph=False),
            callbacks_lib.StepSummaries(os.path.join(log_dir, "train"), 3), checkpointing]


def test_step_summaries_and_checkpoints_keep_their_steps_across_fit_calls(tiny_config, tmp_path):
    config = tiny_config(tmp_path / "run")
    splits, trainer, optimizer, _ = _trainer_and_batch(config)
    manager = tf.train.CheckpointManager(make_checkpoint(trainer, optimizer),
                                         str(tmp_path / "checkpoints"), max_to_keep=10)
    run = _run_callbacks(manager, str(tmp_path / "logs"), StopRequest(), every_steps=5)
    for first, last in ((0, 3), (3, 5)):  # a run resumed after epoch 3: the steps go on
        data = data_lib.training_dataset(splits.train, config.batch_size, last, config.seed,
                                         config.augment, start_epoch=first)
        trainer.fit(data, epochs=last, initial_epoch=first, steps_per_epoch=2, verbose=0,
                    callbacks=run)
    norms = _scalar_steps(str(tmp_path / "logs" / "train"), "step/gradient_norm")
    assert sorted(norms) == [3, 6, 9]
    assert all(np.isfinite(v) and v > 0 for v in norms.values())  # computed on these steps
    # every epoch's end, and step 5
    assert sorted(int(p.rsplit("-", 1)[1]) for p in manager.checkpoints) == [2, 4, 5, 6, 8, 10]


def test_a_stop_request_saves_the_step_reached_before_the_next_step(tiny_config, tmp_path):
    config = tiny_config(tmp_path / "run")
    splits, trainer, optimizer, _ = _trainer_and_batch(config)
    manager = tf.train.CheckpointManager(make_checkpoint(trainer, optimizer),
                                         str(tmp_path / "checkpoints"), max_to_keep=10)
    request = StopRequest()

    class PressCtrlCAfterStep3(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if int(trainer.optimizer.iterations.numpy()) == 3:
                request.requested = True

    run = [PressCtrlCAfterStep3()] + _run_callbacks(manager, str(tmp_path / "logs"), request)
    data = data_lib.training_dataset(splits.train, config.batch_size, 3, config.seed,
                                     config.augment)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(data, epochs=3, steps_per_epoch=2, verbose=0, callbacks=run)
    assert int(optimizer.iterations.numpy()) == 3  # the fourth step never ran
    assert manager.latest_checkpoint.endswith("-3")


def _final_weights(output_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(output_dir / "checkpoints")))
    names = [name for name in reader.get_variable_to_shape_map()
             if name.startswith(("network/", "soft_labels/")) and "OPTIMIZER_SLOT" not in name]
    assert names
    return {name: reader.get_tensor(name) for name in names}


def _checkpoint_steps(output_dir):
    return sorted(int(p.name.split("-")[1].split(".")[0])
                  for p in (output_dir / "checkpoints").glob("ckpt-*.index"))


@pytest.mark.slow
def test_several_steps_per_execution_train_the_same_weights_and_keep_epochs_and_summaries(
        tiny_config, tmp_path):
    from tf_fastls0.training.run import train_and_evaluate

    # 5 steps per epoch in groups of 3: (1-3) (4-5) | (6-8) (9-10); no group crosses an epoch.
    run = dict(epochs=2, data=data_lib.DataConfig(max_train_examples=80, max_eval_examples=16),
               checkpoint_every_steps=4, log_every_steps=2)
    one = train_and_evaluate(tiny_config(tmp_path / "one", **run))
    grouped = train_and_evaluate(tiny_config(tmp_path / "grouped", steps_per_execution=3, **run))

    want, got = _final_weights(tmp_path / "one"), _final_weights(tmp_path / "grouped")
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-6, err_msg=name)
    assert len(grouped["epoch_seconds"]) == 2
    assert grouped["clean_accuracy"] == pytest.approx(one["clean_accuracy"], abs=1e-6)
    # The group holding step 4 ends at 5, the one holding 8 at 8; every epoch end is kept.
    assert _checkpoint_steps(tmp_path / "grouped") == [5, 8, 10]
    logged = _scalar_steps(str(tmp_path / "grouped" / "logs" / "train"), "step/loss")
    assert sorted(logged) == [3, 5, 8, 10]  # the ends of the groups holding steps 2, 4, 6-8, 10


@pytest.mark.slow
def test_a_grouped_run_resumed_mid_epoch_ends_with_the_uninterrupted_weights(tiny_config,
                                                                          tmp_path):
    from tf_fastls0.training.run import train_and_evaluate

    run = dict(epochs=2, data=data_lib.DataConfig(max_train_examples=80, max_eval_examples=16),
               checkpoint_every_steps=4, steps_per_execution=3)
    train_and_evaluate(tiny_config(tmp_path / "whole", **run))
    stopped = tmp_path / "stopped"
    train_and_evaluate(tiny_config(stopped, **run))
    for path in [stopped / "summary.json", stopped / "model.keras",
                 *(stopped / "checkpoints").glob("ckpt-10.*")]:
        path.unlink()
    shutil.rmtree(stopped / "saved_model")
    (stopped / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-8"\n')

    train_and_evaluate(tiny_config(stopped, **run))  # steps 9-10 in one group of 2

    want, got = _final_weights(tmp_path / "whole"), _final_weights(stopped)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-6, err_msg=name)


def test_several_steps_per_execution_are_refused_with_the_multi_worker_loop(tiny_config,
                                                                           tmp_path):
    from tf_fastls0.utils.cli import UsageError

    with pytest.raises(UsageError, match="--steps_per_execution=4 needs --strategy"):
        tiny_config(tmp_path, steps_per_execution=4, strategy="multi_worker")
