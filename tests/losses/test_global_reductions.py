"""Global-batch reductions: plain means on one device, exact shares under MirroredStrategy."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow as tf
import pytest

from tf_fastls0.losses import distributed, objectives

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_outside_any_strategy_reductions_are_plain():
    values = tf.constant([1.0, 2.0, 6.0])
    weights = tf.constant([0.5, 1.0, 0.25])
    assert distributed.num_replicas_in_sync() == 1
    np.testing.assert_allclose(distributed.global_batch_mean(values), 3.0, rtol=1e-6)
    np.testing.assert_allclose(distributed.global_weighted_mean(values, weights),
                               (0.5 + 2.0 + 1.5) / 1.75, rtol=1e-6)
    np.testing.assert_allclose(distributed.global_sum(tf.constant(4.0)), 4.0)


def test_weights_and_normaliser_carry_no_gradient():
    values = tf.Variable([1.0, 3.0])
    weights = tf.Variable([1.0, 3.0])
    with tf.GradientTape() as tape:
        mean = distributed.global_weighted_mean(values * 1.0, weights * 1.0)
    grad_values, grad_weights = tape.gradient(mean, [values, weights])
    np.testing.assert_allclose(grad_values, [0.25, 0.75])
    assert grad_weights is None


def test_one_replica_mirrored_strategy_gives_plain_mean():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    values = tf.constant([1.0, 2.0, 4.0, 9.0])
    share = strategy.run(tf.function(distributed.global_batch_mean), args=(values,))
    np.testing.assert_allclose(strategy.reduce(tf.distribute.ReduceOp.SUM, share, axis=None), 4.0)


@pytest.mark.slow
def test_two_replica_gradients_equal_one_device_gradients():
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, str(REPO / "tests/losses/mirrored_gradients.py")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    # every objective x (paper's, other coefficients) x (labels, soft rows) x (even, uneven split)
    combinations = len(objectives.OBJECTIVES) * 2 * 2 * 2
    assert f"checked {combinations} objective/target/split combinations" in result.stdout
