"""Checks to run before trusting a robustness number, in the spirit of AutoAttack's checks.py.

Each returns a warning (a sentence) or None: outputs that look like probabilities rather than
logits (cross-entropy of a softmax of probabilities is nearly flat, so gradient attacks stall),
input gradients that are all zero (gradient masking: sPGD learns nothing), and two inference passes
that differ (a randomised model: a single attack run overstates robustness).
"""

import numpy as np
import tensorflow as tf

PROBABILITY_TOLERANCE = 1e-4
REPEAT_TOLERANCE = 1e-5


def sanity_warnings(model_fn, images, labels):
    """All warnings for ``model_fn`` on a probe batch ``images`` [B, H, W, C], ``labels`` [B]."""
    images = tf.convert_to_tensor(images, tf.float32)
    labels = tf.convert_to_tensor(labels, tf.int32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = tf.cast(model_fn(images), tf.float32)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    gradient = tape.gradient(loss, images)
    repeated = tf.cast(model_fn(images), tf.float32)
    found = (probability_warning(logits.numpy()), zero_gradient_warning(gradient),
             nondeterminism_warning(logits.numpy(), repeated.numpy()))
    return [warning for warning in found if warning]


def probability_warning(outputs):
    rows_sum_to_one = np.allclose(outputs.sum(axis=-1), 1.0, atol=PROBABILITY_TOLERANCE)
    in_unit_interval = outputs.min() >= 0.0 and outputs.max() <= 1.0
    if rows_sum_to_one and in_unit_interval:
        return ("the model's outputs look like probabilities (each row is in [0, 1] and sums to "
                "1); the attacks expect logits, so the robust accuracy may be overestimated")
    return None


def zero_gradient_warning(gradient):
    if gradient is None or not np.any(gradient.numpy()):
        return ("the input gradients of the loss are all zero on the probe batch; gradient "
                "attacks (sPGD) cannot make progress, so the robust accuracy may be overestimated "
                "(gradient masking)")
    return None


def nondeterminism_warning(first, second):
    scale = 1.0 + float(np.max(np.abs(first)))
    difference = float(np.max(np.abs(first - second)))
    if difference > REPEAT_TOLERANCE * scale:
        return (f"two inference passes on the same images differ (max |difference| "
                f"{difference:.3g}); a randomised model needs an attack that averages over its "
                "randomness, so the robust accuracy may be overestimated")
    return None
