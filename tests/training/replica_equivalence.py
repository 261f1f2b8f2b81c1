"""Trains the same steps on one device and on two replicas; prints the largest differences.

Run as a script (the two logical CPUs must be configured before TensorFlow starts):
``python tests/training/replica_equivalence.py METHOD [extra flags as key=value]``.
"""

import dataclasses
import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tf_fastls0 import data as data_lib  # noqa: E402
from tf_fastls0.training.config import TrainConfig  # noqa: E402
from tf_fastls0.training.run import build_trainer  # noqa: E402

STEPS = 3


def train(strategy, config, splits):
    with strategy.scope():
        trainer, _ = build_trainer(config, splits)
    dataset = data_lib.training_dataset(splits.train, config.batch_size, config.epochs,
                                        config.seed, augment=False)
    trainer.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    weights = [np.asarray(w) for w in trainer.network.get_weights()]
    buffer = trainer.checkpoint_items().get("soft_labels")
    return weights, None if buffer is None else np.asarray(buffer.read_value())


def main(method, overrides):
    splits = data_lib.load_data(data_lib.DataConfig(max_train_examples=64, max_eval_examples=16))
    settings = dict(model="small_cnn", width=0.25, method=method, epochs=2, batch_size=16,
                    train_eps=6, sat_start_epoch=0, learning_rate=0.05)
    config = dataclasses.replace(TrainConfig(), **{**settings, **overrides})
    one_weights, one_buffer = train(tf.distribute.OneDeviceStrategy("/cpu:0"), config, splits)
    two_weights, two_buffer = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), config,
                                    splits)
    initial = [np.asarray(w) for w in build_trainer(config, splits)[0].network.get_weights()]
    report = {
        "weight_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(one_weights, two_weights)),
        "weight_change": max(float(np.max(np.abs(a - b))) for a, b in zip(one_weights, initial)),
        "buffer_difference": None if one_buffer is None else float(np.max(np.abs(one_buffer - two_buffer))),
        "buffer_rows_moved": None if one_buffer is None else int(np.sum(np.any(
            np.abs(one_buffer - np.eye(one_buffer.shape[1])[splits.train.labels]) > 1e-6, axis=1))),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    overrides = dict(arg.split("=", 1) for arg in sys.argv[2:])
    overrides = {k: type(getattr(TrainConfig(), k))(v) for k, v in overrides.items()}
    main(sys.argv[1], overrides)
