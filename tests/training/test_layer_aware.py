"""LAP's layer-aware weight ascent: the strengths' schedule and the step each kernel takes."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.training import layer_aware


def test_strengths_fall_from_beta_at_the_first_layer_as_the_formula_says():
    strengths = layer_aware.layer_strengths(5, beta=0.2, gamma=0.3)
    expected = [0.2 * (1 - (math.log(l) / math.log(6)) ** 0.3) for l in range(1, 6)]
    np.testing.assert_allclose(strengths, expected, rtol=1e-12)
    assert strengths[0] == 0.2 and all(a > b > 0 for a, b in zip(strengths, strengths[1:]))
    # a larger gamma keeps the latter layers' strengths closer to beta
    assert layer_aware.layer_strengths(5, 0.2, 3.0)[-1] > strengths[-1]


def small_network():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 3),
                             keras.layers.BatchNormalization(), keras.layers.Flatten(),
                             keras.layers.Dense(6, activation="softplus"), keras.layers.Dense(3)])


def test_each_kernel_moves_up_its_loss_gradient_by_its_strength_times_its_norm():
    network = small_network()
    images = tf.random.uniform([5, 4, 4, 3], seed=2)
    labels = tf.constant([0, 1, 2, 0, 1])
    kernels = layer_aware.perturbed_variables(network)
    assert [len(k.shape) for k in kernels] == [4, 2, 2]  # biases and BatchNorm are left alone
    before = [np.array(v) for v in network.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, network(images, training=False), from_logits=True))
    gradients = [g.numpy() for g in tape.gradient(loss, kernels)]
    layer_aware.perturb(network, images, labels, beta=0.1, gamma=0.3)
    strengths = layer_aware.layer_strengths(3, 0.1, 0.3)
    kernel_ids = {id(k) for k in kernels}
    moved = iter(zip(gradients, strengths))
    for variable, old in zip(network.trainable_variables, before):
        if id(variable) not in kernel_ids:
            np.testing.assert_array_equal(variable, old)
            continue
        gradient, strength = next(moved)
        expected = old + strength * np.linalg.norm(old) * gradient / np.linalg.norm(gradient)
        np.testing.assert_allclose(variable, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_the_step_raises_the_loss_at_the_start_point(beta):
    network = small_network()
    images = tf.random.uniform([8, 4, 4, 3], seed=3)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])

    def loss():
        return float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, network(images, training=False), from_logits=True)))

    before = loss()
    layer_aware.perturb(network, images, labels, beta=beta, gamma=0.3)
    assert loss() > before if beta else loss() == before
