"""Fast-BAT's implicit-gradient term against numpy on a linear model, and its free entries."""

import keras
import numpy as np
import tensorflow as tf

from tf_fastls0.losses import fast_bat

CLASSES, SHAPE = 3, (2, 2, 2)


def linear_network():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(),
                             keras.layers.Dense(CLASSES)])


def softmax(z):
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def np_input_gradients(kernel, bias, x, labels):
    """grad_x CE for f(x) = x W + b: W (softmax(f) - onehot)."""
    flat = x.reshape(len(x), -1)
    return ((softmax(flat @ kernel + bias) - np.eye(CLASSES)[labels]) @ kernel.T).reshape(x.shape)


def np_correction(kernel, bias, x_adv, labels, direction):
    products = (np_input_gradients(kernel, bias, x_adv, labels) * direction).reshape(len(x_adv), -1)
    return products.sum(-1).mean()


def batch():
    rng = np.random.default_rng(4)
    images = rng.uniform(0.1, 0.9, size=(4,) + SHAPE).astype(np.float32)
    adversarial = images.copy()
    adversarial[:, 0, 0] = [0.3, 1.0]  # one pixel changed per image, its second channel clipped
    adversarial[1, 1, 1] = [0.0, 0.5]
    labels = np.array([0, 1, 2, 1], np.int32)
    return images, adversarial, labels


def test_free_entries_are_the_changed_pixels_inside_the_box():
    images, adversarial, _ = batch()
    free = fast_bat.free_entries(images, adversarial).numpy()
    expected = np.zeros_like(images)
    expected[:, 0, 0, 0] = 1.0
    expected[1, 1, 1, 1] = 1.0
    np.testing.assert_array_equal(free, expected)


def test_correction_and_its_weight_gradient_match_numpy():
    network = linear_network()
    images, adversarial, labels = batch()
    kernel, bias = [np.array(w, np.float64) for w in network.get_weights()]
    lam = 2.0
    direction = np.array(fast_bat.free_entries(images, adversarial)) * \
        np_input_gradients(kernel, bias, adversarial, labels) / lam
    with tf.GradientTape() as tape:
        value = fast_bat.implicit_correction(network, tf.constant(images), tf.constant(adversarial),
                                             labels, lam)
    np.testing.assert_allclose(value, np_correction(kernel, bias, adversarial, labels, direction),
                               rtol=1e-5)
    # the cross term: the gradient through grad_x CE with g held fixed (central differences)
    gradient = tape.gradient(value, network.trainable_variables[0]).numpy()
    step, numeric = 1e-5, np.zeros_like(kernel)
    for index in np.ndindex(kernel.shape):
        shift = np.zeros_like(kernel)
        shift[index] = step
        up = np_correction(kernel + shift, bias, adversarial, labels, direction)
        down = np_correction(kernel - shift, bias, adversarial, labels, direction)
        numeric[index] = (up - down) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-3, atol=1e-6)
    assert np.abs(numeric).max() > 1e-3
