"""The catastrophic-overfitting monitor on histories whose answer is known."""

import types

import pytest

from tf_fastls0.training.callbacks import CatastrophicOverfittingMonitor

# (validation robust accuracy, accuracy against the training attack) per epoch.
COLLAPSE = [(0.10, 0.20), (0.18, 0.30), (0.22, 0.38), (0.08, 0.55), (0.01, 0.80), (0.00, 0.85)]
STEADY = [(0.10, 0.20), (0.18, 0.30), (0.22, 0.38), (0.21, 0.41), (0.24, 0.43), (0.23, 0.44)]
# Robust accuracy falls, but so does the training-attack accuracy: the model got worse at both,
# which is not catastrophic overfitting (the 1-step attack did not become weak).
BOTH_FALL = [(0.10, 0.20), (0.22, 0.40), (0.05, 0.15), (0.04, 0.12)]


def monitor_flags(history, tmp_path, stop=False):
    monitor = CatastrophicOverfittingMonitor(str(tmp_path), robust_drop=0.5, train_margin=0.1,
                                             stop=stop)
    monitor.set_model(types.SimpleNamespace(stop_training=False))
    for epoch, (robust, train) in enumerate(history):
        logs = {"val_robust_accuracy": robust, "adversarial_accuracy": train}
        monitor.on_epoch_end(epoch, logs)
        assert logs["catastrophic_overfitting"] == float(epoch in monitor.flagged_epochs)
        if monitor.model.stop_training:
            break
    return monitor


@pytest.mark.parametrize("history, flagged", [(COLLAPSE, [3, 4, 5]), (STEADY, []),
                                              (BOTH_FALL, [])])
def test_the_monitor_flags_a_collapse_and_only_a_collapse(history, flagged, tmp_path):
    assert monitor_flags(history, tmp_path).flagged_epochs == flagged


def test_the_monitor_stops_training_at_the_first_flag_when_asked(tmp_path):
    monitor = monitor_flags(COLLAPSE, tmp_path, stop=True)
    assert monitor.flagged_epochs == [3] and monitor.model.stop_training


def masked_brightness_classifier(images):
    """Class 1 when an image's mean brightness is above 0.5, with a zero input gradient: sPGD
    learns nothing from it, so only a gradient-free attack can find the images near the line."""
    import tensorflow as tf

    mean = tf.reduce_mean(tf.stop_gradient(images) + 0.0 * images, axis=[1, 2, 3])
    return tf.stack([0.5 - mean, mean - 0.5], axis=-1) * 100.0


@pytest.mark.slow
def test_robust_validation_sees_past_masked_gradients_with_sparse_rs():
    import numpy as np

    from tf_fastls0.training.callbacks import RobustValidation

    levels = np.linspace(0.35, 0.65, 64, dtype=np.float32)
    levels = levels[np.abs(levels - 0.5) > 0.005]
    images = np.broadcast_to(levels[:, None, None, None], (len(levels), 8, 8, 3)).copy()
    labels = (levels > 0.5).astype(np.int32)
    accuracy = {}
    for queries in (0, 50):
        validation = RobustValidation(images, labels, eps=10, iterations=5, batch_size=32,
                                      queries=queries)
        validation.set_model(types.SimpleNamespace(network=lambda x, training: (
            masked_brightness_classifier(x))))
        logs = {}
        validation.on_epoch_end(0, logs)
        accuracy[queries] = logs["val_robust_accuracy"]
    # Changing 10 of 64 pixels moves the mean by at most 10/64 x 0.65, so images within about
    # 0.1 of the line can be flipped: about a third of them.
    assert accuracy[50] < accuracy[0] - 0.15, accuracy


def test_robust_validation_of_a_model_that_gets_every_image_wrong_is_zero():
    import numpy as np

    from tf_fastls0.training.callbacks import RobustValidation

    import keras

    always_class_0 = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, kernel_initializer="zeros", bias_initializer=keras.initializers
                           .Constant([1.0, 0.0]))])
    images = np.random.default_rng(0).uniform(size=(6, 8, 8, 3)).astype(np.float32)
    validation = RobustValidation(images, np.ones(6, np.int32), eps=3, iterations=2, batch_size=4,
                                  queries=5)
    validation.set_model(types.SimpleNamespace(network=always_class_0))
    logs = {}
    validation.on_epoch_end(0, logs)
    assert logs["val_robust_accuracy"] == 0.0


@pytest.mark.parametrize("old, new, value", [("steps", "iterations", 7),
                                             ("rs_queries", "queries", 9)])
def test_robust_validation_s_old_keywords_still_work_and_warn(old, new, value):
    import numpy as np

    from tf_fastls0.training.callbacks import RobustValidation

    images, labels = np.zeros((2, 4, 4, 3), np.float32), np.zeros(2, np.int32)
    with pytest.warns(DeprecationWarning, match=f"RobustValidation\\({old}=...\\) is deprecated: "
                      f"use {new}="):
        validation = RobustValidation(images, labels, eps=2, **{old: value})
    assert getattr(validation, new) == value
