"""Fixtures for the attack tests: tiny analytic models and a tiny CNN trained on real CIFAR-10."""

import itertools
import types

import numpy as np
import pytest
import tensorflow as tf
import keras
from PIL import Image


def mlp_model_fn(shape, classes=4, seed=0, hidden=16, dtype=tf.float32):
    """A fixed random one-hidden-layer MLP on images of ``shape`` (H, W, C) -> float32 logits,
    computed in ``dtype``."""
    rng = np.random.default_rng(seed)
    features = int(np.prod(shape))
    w1 = tf.constant(rng.normal(size=(features, hidden)) * 3.0 / np.sqrt(features), dtype)
    b1 = tf.constant(rng.normal(size=hidden), dtype)
    w2 = tf.constant(rng.normal(size=(hidden, classes)) / np.sqrt(hidden), dtype)

    def model_fn(images):
        flat = tf.reshape(tf.cast(images, dtype), [-1, features])
        return tf.cast(tf.nn.relu(flat @ w1 + b1) @ w2, tf.float32)

    return model_fn


@pytest.fixture(scope="session")
def mlp():
    """``mlp(shape, classes=4, seed=0, dtype=tf.float32)`` -> model_fn (a factory, so hypothesis
    can vary shapes)."""
    return mlp_model_fn


@pytest.fixture(scope="session")
def predicted_batch():
    """``(model_fn, shape, batch, seed) -> (images, labels)``: uniform random images labelled with
    the model's own predictions, so every image starts correctly classified."""

    def make(model_fn, shape, batch, seed):
        rng = np.random.default_rng(seed)
        images = rng.uniform(size=(batch, *shape)).astype(np.float32)
        return images, np.argmax(model_fn(images).numpy(), axis=-1).astype(np.int32)

    return make


@pytest.fixture(scope="session")
def cifar_cnn(cifar10_dir, built_once):
    """A tiny CNN trained normally on 2,000 real CIFAR-10 images, and 200 test images.

    About 20 s on 2 CPU cores, once per session (the pytest-xdist workers share its weights);
    test accuracy about 45%. Returns ``(model_fn, images, labels)``.
    """
    def train(folder):
        train_x, train_y = _load_cifar(cifar10_dir / "train", per_class=200)
        keras.utils.set_random_seed(0)
        net = _cnn()
        net.compile(keras.optimizers.Adam(3e-3),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        net.fit(train_x, train_y, batch_size=64, epochs=30, verbose=0)
        net.save_weights(folder / "cnn.weights.h5")

    net = _cnn()
    net.load_weights(built_once("cifar_cnn", train) / "cnn.weights.h5")
    test_x, test_y = _load_cifar(cifar10_dir / "test", per_class=20)
    return (lambda images: net(images, training=False)), test_x, test_y


def _cnn():
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10),
    ])


def _load_cifar(folder, per_class):
    """The first ``per_class`` JPEGs of each class folder (sorted), as float32 [0, 1] and labels."""
    images, labels = [], []
    for label, class_dir in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        for path in sorted(class_dir.glob("*.jpg"))[:per_class]:
            images.append(np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0)
            labels.append(label)
    return np.stack(images), np.asarray(labels, np.int32)


def check_shape_and_dtype_kept(adversarial, images):
    adversarial, images = np.asarray(adversarial), np.asarray(images)
    assert adversarial.shape == images.shape and adversarial.dtype == images.dtype


def check_values_in_unit_interval(adversarial):
    adversarial = np.asarray(adversarial)
    assert np.all(np.isfinite(adversarial))
    assert adversarial.min(initial=0.0) >= 0.0 and adversarial.max(initial=1.0) <= 1.0


def check_sparse_image(adversarial, images, eps):
    """SPEC §2 invariants: same shape and dtype, values in [0, 1], <= eps pixels changed."""
    check_shape_and_dtype_kept(adversarial, images)
    check_values_in_unit_interval(adversarial)
    changed = np.any(np.asarray(adversarial) != images, axis=-1).reshape(len(images), -1)
    assert np.all(changed.sum(axis=1) <= eps), changed.sum(axis=1)


@pytest.fixture(scope="session")
def assert_sparse_image():
    return check_sparse_image


def check_within_k_structures(adversarial, images, threat, eps):
    """The changed pixels of each image lie inside at most ``eps`` of the threat's groups (brute
    force over the groups that touch them)."""
    membership = threat.membership()  # [G, H*W]
    changes = np.any(np.asarray(adversarial) != np.asarray(images), axis=-1)
    for changed in changes.reshape(len(images), -1):
        if not changed.any():
            continue
        touching = np.flatnonzero(membership[:, changed].any(axis=1))
        covers = (np.any(membership[list(chosen)], axis=0)
                  for size in range(1, min(eps, len(touching)) + 1)
                  for chosen in itertools.combinations(touching, size))
        assert any(np.all(cover[changed]) for cover in covers), np.flatnonzero(changed)


def check_structured_image(adversarial, images, threat, eps):
    """A structured threat's invariants: shape and dtype kept, values in [0, 1], and the changed
    pixels inside at most ``eps`` of the threat's groups."""
    check_shape_and_dtype_kept(adversarial, images)
    check_values_in_unit_interval(adversarial)
    check_within_k_structures(adversarial, images, threat, eps)


@pytest.fixture(scope="session")
def assert_structured_image():
    return check_structured_image


@pytest.fixture(scope="session")
def invariants():
    """The attack invariants one at a time, for a property test per invariant."""
    return types.SimpleNamespace(shape_and_dtype_kept=check_shape_and_dtype_kept,
                                 values_in_unit_interval=check_values_in_unit_interval,
                                 within_k_structures=check_within_k_structures)
