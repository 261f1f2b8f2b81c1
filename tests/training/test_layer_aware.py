"""LAP's layer-aware weight step: the strengths' schedule and the step each kernel takes with
``--lap_step=ascent`` (the authors' step: ``test_layer_aware_authors.py``)."""

import functools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.models import MODELS
from tf_fastls0.training import layer_aware

ASCENT = functools.partial(layer_aware.LapSettings, step="ascent")  # --lap_step=ascent


def test_strengths_fall_from_beta_at_the_first_layer_to_0_at_the_last_as_the_reference():
    strengths = layer_aware.layer_strengths(5, beta=0.2, gamma=0.3)
    expected = [0.2 * (1 - (math.log(l) / math.log(5)) ** 0.3) for l in range(1, 6)]
    np.testing.assert_allclose(strengths, expected, rtol=1e-12)
    assert strengths[0] == 0.2 and strengths[-1] == 0.0
    assert all(a > b for a, b in zip(strengths, strengths[1:]))
    # a larger gamma keeps the latter layers' strengths closer to beta
    assert layer_aware.layer_strengths(5, 0.2, 3.0)[-2] > strengths[-2]
    assert layer_aware.layer_strengths(1, 0.2, 0.3) == [0.2]


def test_preact_resnet18_has_the_references_21_perturbed_kernels():
    # LAP.py's --layer-number: "21 for resnet-18", the denominator ln 21 of its strengths
    network = MODELS["preact_resnet18"]((8, 8, 3), 10, width=0.0625, sync_batchnorm=False)
    assert len(layer_aware.perturbed_variables(network)) == 21


def np_reference_perturbation(weights, changes, gamma, beta, layer_number):
    """LAP.py's ``diff_in_weights`` then ``add_into_weights`` (utils.py), in numpy: each kernel
    plus ``(1 - (ln l / ln layer_number)^gamma) * beta * ||w|| / (||change|| + 1e-20) * change``."""
    moved = []
    for count, (weight, change) in enumerate(zip(weights, changes), start=1):
        scaled = np.linalg.norm(weight) / (np.linalg.norm(change) + 1e-20) * change
        layer_weight = 1.0 - np.power(np.log(count) / np.log(layer_number), gamma)
        moved.append(weight + layer_weight * beta * scaled)
    return moved


def small_network():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 3),
                             keras.layers.BatchNormalization(), keras.layers.Flatten(),
                             keras.layers.Dense(6, activation="softplus"), keras.layers.Dense(3)])


def test_each_kernel_moves_as_the_references_formula_with_the_papers_ascent_direction():
    network = small_network()
    images = tf.random.uniform([5, 4, 4, 3], seed=2)
    labels = tf.constant([0, 1, 2, 0, 1])
    kernels = layer_aware.perturbed_variables(network)
    assert [len(k.shape) for k in kernels] == [4, 2, 2]  # biases and BatchNorm are left alone
    before = [np.array(v) for v in network.trainable_variables]
    with tf.GradientTape() as tape:  # the training-mode CE at the start point, as the reference
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, network(images, training=True), from_logits=True))
    gradients = [g.numpy() for g in tape.gradient(loss, kernels)]
    layer_aware.perturb(network, None, images, labels, ASCENT(beta=0.1, gamma=0.3))
    # The reference's change is its optimiser step (a descent direction); the paper's is the
    # adversarial (ascent) one, the gradient, which we follow.
    kernel_ids = {id(k) for k in kernels}
    old_kernels = [b for b, v in zip(before, network.trainable_variables) if id(v) in kernel_ids]
    expected = iter(np_reference_perturbation(old_kernels, gradients, 0.3, 0.1, 3))
    for variable, old in zip(network.trainable_variables, before):
        if id(variable) not in kernel_ids:
            np.testing.assert_array_equal(variable, old)
            continue
        np.testing.assert_allclose(variable, next(expected), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(kernels[-1], before[-2])  # the classifier: strength 0


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_the_ascent_step_raises_the_loss_at_the_start_point(beta):
    network = small_network()
    images = tf.random.uniform([8, 4, 4, 3], seed=3)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])

    def loss():  # in training mode, as the step's gradient (its BatchNorm statistics move)
        return float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, network(images, training=True), from_logits=True)))

    before = loss()
    layer_aware.perturb(network, None, images, labels, ASCENT(beta=beta, gamma=0.3))
    assert loss() > before if beta else loss() == before
