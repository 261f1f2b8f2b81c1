"""The fused BatchNormalization computes what Keras' layer computes and keeps its variables."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.models import build_model
from tf_fastls0.models import precision
from tf_fastls0.models.batch_norm import BatchNormalization

SHAPE = (6, 5, 7, 4)  # NHWC, 6 * 5 * 7 = 210 values per channel


def _pair(dtype="float32"):
    """Keras' layer and ours, built alike, with the same random (non-default) weights."""
    rng = np.random.default_rng(0)
    ours = BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=dtype)
    keras_bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=dtype)
    for layer in (ours, keras_bn):
        layer.build(SHAPE)
    keras_bn.set_weights([rng.uniform(0.5, 2.0, SHAPE[-1]).astype("float32"),   # gamma
                          rng.normal(0, 1, SHAPE[-1]).astype("float32"),         # beta
                          rng.normal(0, 1, SHAPE[-1]).astype("float32"),         # moving_mean
                          rng.uniform(0.5, 3.0, SHAPE[-1]).astype("float32")])   # moving_variance
    ours.set_weights(keras_bn.get_weights())
    return ours, keras_bn


def _images(seed):
    return tf.constant(np.random.default_rng(seed).normal(1.5, 2.0, SHAPE).astype("float32"))


def _forward_backward(layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.sin(x))  # a gradient that is not uniform
    return y, tape.gradient(loss, [x, layer.gamma, layer.beta])


@pytest.mark.parametrize("training", [True, False])
def test_outputs_gradients_and_moving_statistics_equal_keras(training):
    ours, keras_bn = _pair()
    for step in range(3):  # three updates: the momentum rule compounds
        x = _images(step)
        got, got_grads = _forward_backward(ours, x, training)
        want, want_grads = _forward_backward(keras_bn, x, training)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        for got_grad, want_grad in zip(got_grads, want_grads):
            np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-5)
        for got_weight, want_weight in zip(ours.get_weights(), keras_bn.get_weights()):
            np.testing.assert_allclose(got_weight, want_weight, rtol=1e-6, atol=1e-6)
    moved = not np.allclose(ours.moving_variance.numpy(), _pair()[0].moving_variance.numpy())
    assert moved == training  # training updates the statistics; inference leaves them


def test_moving_variance_takes_the_biased_batch_variance_as_keras_does():
    # The kernel's own variance carries Bessel's correction n / (n - 1); with n = 210 that would
    # differ from Keras by 0.5 %, far above the tolerance.
    ours, _ = _pair()
    before = ours.moving_variance.numpy()
    x = _images(7)
    ours(x, training=True)
    biased = np.var(x.numpy().reshape(-1, SHAPE[-1]), axis=0)
    np.testing.assert_allclose(ours.moving_variance.numpy(), 0.9 * before + 0.1 * biased, rtol=1e-5)


def test_the_fused_kernel_runs_for_4d_inputs_and_keras_layer_otherwise():
    def op_types(layer, x, training):
        layer.build(x.shape)
        graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(x).graph
        return {op.type for op in graph.get_operations()}

    assert "FusedBatchNormV3" in op_types(BatchNormalization(), _images(0), True)
    assert "FusedBatchNormV3" in op_types(BatchNormalization(), _images(0), False)
    assert "FusedBatchNormV3" not in op_types(BatchNormalization(), tf.zeros([4, 3]), True)
    assert "FusedBatchNormV3" not in op_types(BatchNormalization(synchronized=True), _images(0), True)


def test_mixed_precision_matches_keras_and_gives_the_compute_dtype():
    ours, keras_bn = _pair("mixed_bfloat16")
    x = tf.cast(_images(3), tf.bfloat16)
    for training in (True, False):
        got, want = ours(x, training=training), keras_bn(x, training=training)
        assert got.dtype == tf.bfloat16
        np.testing.assert_allclose(tf.cast(got, tf.float32), tf.cast(want, tf.float32), rtol=1e-2,
                                   atol=1e-2)
    np.testing.assert_allclose(ours.moving_variance.numpy(), keras_bn.moving_variance.numpy(),
                               rtol=1e-5)


def _keras_bn_small_cnn():
    """small_cnn as it was built before the fused layer: Keras' own BatchNormalization."""
    images = keras.Input((8, 8, 3), name="images")
    x = images
    for i, (channels, stride) in enumerate(((8, 1), (16, 2), (32, 2))):
        x = keras.layers.Conv2D(channels, 3, strides=stride, padding="same", name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(images, keras.layers.Dense(3, name="logits")(x), name="small_cnn")


def test_a_checkpoint_written_with_keras_layer_restores_into_the_fused_model(tmp_path):
    old = _keras_bn_small_cnn()
    old(tf.random.uniform([16, 8, 8, 3], seed=1), training=True)  # moving statistics move
    prefix = tf.train.Checkpoint(network=old).write(str(tmp_path / "ckpt"))
    new = build_model("small_cnn", (8, 8, 3), 3, width=0.25)
    tf.train.Checkpoint(network=new).read(prefix).assert_consumed()
    x = tf.random.uniform([4, 8, 8, 3], seed=2)
    np.testing.assert_allclose(new(x, training=False), old(x, training=False), rtol=1e-5, atol=1e-5)


def test_a_keras_file_round_trips_with_the_fused_layer(tmp_path):
    model = build_model("small_cnn", (8, 8, 3), 3, width=0.25)
    model(tf.random.uniform([16, 8, 8, 3], seed=1), training=True)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(reloaded.get_layer("bn1")) is BatchNormalization
    x = tf.random.uniform([4, 8, 8, 3], seed=2)
    np.testing.assert_allclose(reloaded(x, training=False), model(x, training=False), rtol=1e-6)
    old = _keras_bn_small_cnn()  # and a file written with Keras' layer still loads
    old.save(tmp_path / "old.keras")
    keras.saving.load_model(tmp_path / "old.keras", safe_mode=True)


def test_the_export_copy_has_keras_own_layer_and_its_file_needs_no_custom_object(tmp_path):
    # training/export.py saves precision.float32(network): a .keras file that loads with Keras
    # alone, as the README's quickstart loads it.
    model = build_model("preact_resnet18", (8, 8, 3), 3, width=0.125)
    model(tf.random.uniform([16, 8, 8, 3], seed=1), training=True)
    exported = precision.float32(model)
    assert all(type(layer).__module__.startswith("keras.") for layer in exported.layers)
    x = tf.random.uniform([4, 8, 8, 3], seed=2)
    np.testing.assert_allclose(exported(x, training=False), model(x, training=False), rtol=1e-5,
                               atol=1e-5)
    exported.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        config = archive.read("config.json").decode()
    assert "tf_fastls0" not in config and json.loads(config)
    assert precision.float32(_keras_bn_small_cnn()) is not None  # a network of Keras' layers
