"""Trains the same steps on one device and on two replicas; prints the largest differences.

Run as a script (the two logical CPUs must be configured before TensorFlow starts):
``python tests/training/replica_equivalence.py CASE``, the case ``METHOD[:key=value,...]``;
prints one JSON line ``{CASE: report}``. One case per process: several mirrored trainers in one
process mix up their collectives.
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
from tf_fastls0.utils.settings import flag_fields, key_of  # noqa: E402
from tf_fastls0.training.run import build_trainer  # noqa: E402

STEPS = 3


def train(strategy, config, splits):
    with strategy.scope():
        trainer, _ = build_trainer(config, splits)
    dataset = data_lib.training_dataset(splits.train, config.batch_size, config.epochs,
                                        config.seed, augment=False)
    trainer.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    weights = [np.asarray(w) for w in trainer.network.get_weights()]
    items = {name: np.asarray(variable.read_value())
             for name, variable in trainer.checkpoint_items().items()}
    return weights, items.get("soft_labels"), items.get("atta_perturbations")


def compare(method, overrides):
    splits = data_lib.load_data(data_lib.DataConfig(max_train_examples=64, max_eval_examples=16))
    settings = dict(model="small_cnn", width=0.25, method=method, epochs=2, batch_size=16,
                    train_eps=6, soft_label_start_epoch=0, learning_rate=0.05,
                    mixed_precision="off")  # the tolerances are float32's rounding
    config = dataclasses.replace(TrainConfig(), **{**settings, **overrides})
    one_weights, one_buffer, one_carried = train(tf.distribute.OneDeviceStrategy("/cpu:0"),
                                                 config, splits)
    two_weights, two_buffer, two_carried = train(
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), config, splits)
    initial = [np.asarray(w) for w in build_trainer(config, splits)[0].network.get_weights()]
    return {
        "weight_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(one_weights, two_weights)),
        "weight_change": max(float(np.max(np.abs(a - b))) for a, b in zip(one_weights, initial)),
        "buffer_difference": None if one_buffer is None else float(np.max(np.abs(one_buffer - two_buffer))),
        "buffer_rows_moved": None if one_buffer is None else int(np.sum(np.any(
            np.abs(one_buffer - np.eye(one_buffer.shape[1])[splits.train.labels]) > 1e-6, axis=1))),
        # ATTA's stored perturbations: positions and magnitudes of each example's pixels
        "carried_difference": None if one_carried is None else float(np.max(np.abs(
            one_carried - two_carried))),
        "carried_rows_stored": None if one_carried is None else int(np.sum(np.any(
            one_carried[..., 0] >= 0, axis=1))),
    }


def parse_case(case):
    method, _, settings = case.partition(":")
    overrides = dict(item.split("=", 1) for item in settings.split(",") if item)
    defaults = {key_of(field): field.default for field in flag_fields(TrainConfig)}  # flat keys
    return method, {k: type(defaults[k])(v) for k, v in overrides.items()}


if __name__ == "__main__":
    print(json.dumps({case: compare(*parse_case(case)) for case in sys.argv[1:]}))
