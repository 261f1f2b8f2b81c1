"""N-LAP's weight step as its authors run it (tmllab/2024_ICML_LAP ``CIFAR10/LAP.py``): a real
SGD step (momentum, weight decay) on a copy, its change measured, everything restored, the change
added scaled per layer (``--lap_step=authors``, the default)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.training import layer_aware
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.optimizer import SGDWithL2
from tf_fastls0.utils.cli import UsageError

MOMENTUM, WEIGHT_DECAY, LR = 0.9, 5e-4, 0.1


def small_network():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 3),
                             keras.layers.BatchNormalization(), keras.layers.Flatten(),
                             keras.layers.Dense(6, activation="softplus"), keras.layers.Dense(3)])


def batch(seed=2):
    return tf.random.uniform([6, 4, 4, 3], seed=seed), tf.constant([0, 1, 2, 0, 1, 2])


def trained_optimizer(network, learning_rate=LR, steps=2):
    """The run's SGD after a few steps, so its momentum buffers hold a history."""
    optimizer = SGDWithL2(learning_rate, MOMENTUM, WEIGHT_DECAY)
    optimizer.build(network.trainable_variables)
    for seed in range(steps):
        images, labels = batch(10 + seed)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, network(images, training=True), from_logits=True))
        optimizer.apply(tape.gradient(loss, network.trainable_variables),
                        network.trainable_variables)
    return optimizer


def np_reference_step(network, optimizer, images, labels, beta, gamma):
    """LAP.py's lines, in numpy: the CE's training-mode gradient at the start point, a PyTorch
    SGD step (``d = g + wd w``, ``buf = momentum buf + d``, ``w' = w - lr buf``) on a copy,
    ``diff_in_weights(proxy, model)`` (``||w|| / (||w' - w|| + 1e-20) (w' - w)`` per kernel),
    then ``add_into_weights`` (``(1 - (ln l / ln L)^gamma) beta diff``). Returns the kernels."""
    kernels = layer_aware.perturbed_variables(network)
    weights = [tf.convert_to_tensor(v.value) for v in network.trainable_variables]
    with tf.GradientTape() as tape:  # a stateless forward: the copy's statistics are dropped
        tape.watch(weights)
        logits, _ = network.stateless_call(
            weights, [v.value for v in network.non_trainable_variables], images, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True))
    gradients = dict(zip((id(v) for v in network.trainable_variables),
                         tape.gradient(loss, weights)))
    moved = []
    for count, kernel in enumerate(kernels, start=1):
        w = kernel.numpy().astype(np.float64)
        buffer = optimizer.momentums[optimizer._get_variable_index(kernel)].numpy()
        buffer = MOMENTUM * buffer + gradients[id(kernel)].numpy() + WEIGHT_DECAY * w
        change = (w - float(optimizer.learning_rate) * buffer) - w
        diff = np.linalg.norm(w) / (np.linalg.norm(change) + 1e-20) * change
        layer_weight = 1.0 - np.power(np.log(count) / np.log(len(kernels)), gamma)
        moved.append(w + layer_weight * beta * diff)
    return moved


def state(network, optimizer):
    return ([v.numpy() for v in network.non_trainable_variables],
            [v.numpy() for v in optimizer.variables])


def test_each_kernel_moves_by_the_references_sgd_step_and_nothing_else_changes():
    network = small_network()
    optimizer = trained_optimizer(network)
    images, labels = batch()
    assert np.any(optimizer.momentums[0].numpy())  # the copy's step leans on this history
    expected = np_reference_step(network, optimizer, images, labels, beta=0.1, gamma=0.3)
    others = {id(v): v.numpy() for v in network.trainable_variables if len(v.shape) <= 1}
    (statistics, slots) = state(network, optimizer)
    layer_aware.perturb(network, optimizer, images, labels, layer_aware.LapSettings(beta=0.1))
    for kernel, want in zip(layer_aware.perturbed_variables(network), expected):
        np.testing.assert_allclose(kernel.numpy(), want, rtol=1e-5, atol=1e-7)
    for variable in network.trainable_variables:
        if id(variable) in others:  # biases and BatchNorm's scale and offset
            np.testing.assert_array_equal(variable.numpy(), others[id(variable)])
    after_statistics, after_slots = state(network, optimizer)
    for before, after in zip(statistics + slots, after_statistics + after_slots):
        np.testing.assert_array_equal(after, before)  # restored: statistics, buffers, step


def test_the_authors_step_descends_where_the_ascent_step_climbs():
    images, labels = batch()

    def loss(network):
        logits = network(images, training=False)
        return float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True)))

    changes = {}
    for step in layer_aware.STEPS:
        network = small_network()
        optimizer = SGDWithL2(LR, MOMENTUM, WEIGHT_DECAY)
        optimizer.build(network.trainable_variables)  # no history: the step is -lr (g + wd w)
        before = loss(network)
        layer_aware.perturb(network, optimizer, images, labels,
                            layer_aware.LapSettings(beta=0.05, step=step))
        changes[step] = loss(network) - before
    assert changes["authors"] < 0 < changes["ascent"]


def test_a_learning_rate_of_0_takes_no_step_as_the_reference():
    network = small_network()
    optimizer = trained_optimizer(network)
    optimizer.learning_rate = 0.0
    before = [v.numpy() for v in network.trainable_variables]
    layer_aware.perturb(network, optimizer, *batch(), layer_aware.LapSettings(beta=0.1))
    for variable, old in zip(network.trainable_variables, before):
        np.testing.assert_array_equal(variable.numpy(), old)


def test_the_authors_step_needs_the_runs_sgd():
    network = small_network()
    with pytest.raises(ValueError, match="lap_step='ascent'"):
        layer_aware.perturb(network, keras.optimizers.AdamW(0.1), *batch(),
                            layer_aware.LapSettings())
    with pytest.raises(UsageError, match="--lap_step=ascent"):
        TrainConfig(method="n_lap", optimizer="adamw")
    assert TrainConfig(method="n_lap", optimizer="adamw", lap_step="ascent").lap.step == "ascent"
    assert TrainConfig(method="n_lap").lap.step == "authors"


@pytest.mark.parametrize("settings", [dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
                                      dict(momentum=0.0, weight_decay=5e-4)])
def test_the_step_of_keras_own_sgd_is_the_change_its_apply_makes(settings):
    """A user who compiles SparseAdversarialModel with keras.optimizers.SGD gets the authors' step
    of that optimiser: the change its own ``apply`` would make, predicted without writing."""
    network = small_network()
    optimizer = keras.optimizers.SGD(LR, **settings)
    optimizer.build(network.trainable_variables)
    for seed in (10, 11, 12):
        images, labels = batch(seed)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, network(images, training=True), from_logits=True))
        gradients = tape.gradient(loss, network.trainable_variables)
        before = [v.numpy() for v in network.trainable_variables]
        predicted = [layer_aware.step_change(optimizer, g, v).numpy()
                     for g, v in zip(gradients, network.trainable_variables)]
        optimizer.apply(gradients, network.trainable_variables)
        for old, new, change in zip(before, network.trainable_variables, predicted):
            np.testing.assert_allclose(new.numpy() - old, change, atol=1e-6)


def test_an_n_lap_run_from_before_the_setting_reads_back_as_the_ascent_it_trained_with():
    written = TrainConfig(method="n_lap").to_dict()
    del written["lap"]["step"]  # config.json as written before --lap_step
    assert TrainConfig.from_dict(written).lap.step == "ascent"
    assert TrainConfig.from_dict(TrainConfig(method="n_lap").to_dict()).lap.step == "authors"
