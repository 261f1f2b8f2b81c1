"""Trains ``SparseAdversarialModel`` (Fast-LS-l0: soft labels filled as examples are seen,
N-FGSM noise, the 1-step attack) on a user's functional model, 3 steps on one device and on two
replicas; prints one JSON line of the largest differences.

Run as a script (the two logical CPUs must be configured before TensorFlow starts):
``python tests/training/wrapper_replicas.py``.
"""

import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import tf_fastls0  # noqa: E402

IMAGES = np.random.default_rng(0).random((24, 8, 8, 3), dtype=np.float32)
LABELS = np.random.default_rng(1).integers(0, 3, 24)


def classifier():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.BatchNormalization(synchronized=True)(hidden)  # one batch's statistics
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def train(strategy):
    with strategy.scope():
        network = classifier()
        model = tf_fastls0.SparseAdversarialModel(network, "fast_ls_l0", train_eps=2,
                                                  soft_label_start_epoch=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(IMAGES, LABELS, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return network.get_weights(), model.buffer.rows.numpy()


if __name__ == "__main__":
    initial = classifier().get_weights()
    one, one_rows = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two, two_rows = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print(json.dumps({
        "weight_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(one, two)),
        "weight_change": max(float(np.max(np.abs(a - b))) for a, b in zip(one, initial)),
        "buffer_difference": float(np.max(np.abs(one_rows - two_rows))),
        "buffer_rows_moved": int(np.sum(np.any(np.abs(one_rows - np.eye(3)[LABELS]) > 1e-6,
                                               axis=1))),
    }))
