"""SAT soft-target rule (SPEC section 5) against its formula."""

import hypothesis
import hypothesis.extra.numpy as hnp
import numpy as np
import tensorflow as tf
from hypothesis import strategies as st

from tf_fastls0.losses import soft_targets


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_initial_rows_are_one_hot():
    np.testing.assert_array_equal(soft_targets.one_hot_targets([2, 0], 3), [[0, 0, 1], [1, 0, 0]])


def test_update_is_momentum_average_with_softmax():
    rows = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]], np.float32)
    logits = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]], np.float32)
    got = soft_targets.updated_targets(rows, logits, momentum=0.9)
    np.testing.assert_allclose(got, 0.9 * rows + 0.1 * softmax(logits), rtol=1e-6)


def test_inactive_rows_stay_one_hot():
    rows = soft_targets.one_hot_targets([1, 2], 3)
    logits = tf.constant([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    np.testing.assert_array_equal(soft_targets.updated_targets(rows, logits, active=False), rows)
    active = soft_targets.targets_active(tf.constant(3), 5)
    np.testing.assert_array_equal(soft_targets.updated_targets(rows, logits, active=active), rows)
    moved = soft_targets.updated_targets(rows, logits, active=soft_targets.targets_active(tf.constant(5), 5))
    assert not np.allclose(moved, rows)


def test_targets_move_from_the_start_epoch_on():
    assert not soft_targets.targets_active(49, 50)
    assert soft_targets.targets_active(50, 50)


def test_weights_are_row_maxima():
    rows = tf.constant([[0.1, 0.7, 0.2], [0.4, 0.3, 0.3]])
    np.testing.assert_allclose(soft_targets.target_weights(rows), [0.7, 0.4])


def test_no_gradient_flows_into_the_logits():
    logits = tf.Variable([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        rows = soft_targets.updated_targets(tf.constant([[1.0, 0.0]]), logits * 1.0)
    assert tape.gradient(rows, logits) is None


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(labels=hnp.arrays(np.int32, 4, elements=st.integers(0, 4)),
                  logits=hnp.arrays(np.float32, (3, 4, 5), elements=st.floats(-20, 20, width=32)),
                  momentum=st.floats(0.0, 0.99))
def test_rows_stay_distributions_with_weights_in_range(labels, logits, momentum):
    rows = soft_targets.one_hot_targets(labels, 5)
    for step_logits in logits:
        rows = soft_targets.updated_targets(rows, step_logits, momentum)
    np.testing.assert_allclose(tf.reduce_sum(rows, -1), np.ones(4), rtol=1e-5)
    assert np.all(rows.numpy() >= 0)
    weights = soft_targets.target_weights(rows).numpy()
    assert np.all(weights >= 0.2 - 1e-6) and np.all(weights <= 1 + 1e-6)
