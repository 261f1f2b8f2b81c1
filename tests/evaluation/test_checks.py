"""The pre-attack sanity checks (AutoAttack-style) on tiny models built to trip each one."""

import numpy as np
import tensorflow as tf

from tf_fastls0.evaluation.checks import sanity_warnings

SHAPE = (4, 4, 3)
CLASSES = 5


def _linear(seed=0):
    weights = tf.constant(np.random.default_rng(seed).normal(size=(np.prod(SHAPE), CLASSES)),
                          tf.float32)
    return lambda images: tf.reshape(images, [-1, int(np.prod(SHAPE))]) @ weights


def _probe():
    rng = np.random.default_rng(1)
    return (rng.uniform(size=(8, *SHAPE)).astype(np.float32),
            rng.integers(0, CLASSES, size=8).astype(np.int32))


def test_a_plain_logit_model_passes():
    assert sanity_warnings(_linear(), *_probe()) == []


def test_probabilities_are_flagged():
    linear = _linear()
    found = sanity_warnings(lambda x: tf.nn.softmax(linear(x)), *_probe())
    assert len(found) == 1 and "probabilities" in found[0]


def test_zero_input_gradients_are_flagged():
    linear = _linear()
    found = sanity_warnings(lambda x: tf.stop_gradient(linear(x)), *_probe())
    assert len(found) == 1 and "gradients" in found[0] and "all zero" in found[0]


def test_a_randomised_model_is_flagged():
    linear = _linear()
    noisy = lambda x: linear(x) + tf.random.normal([tf.shape(x)[0], CLASSES])  # noqa: E731
    found = sanity_warnings(noisy, *_probe())
    assert len(found) == 1 and "two inference passes" in found[0]
