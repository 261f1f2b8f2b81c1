"""AWP (training/awp.py): the perturbation against numpy, and the trainer's step against a plain
SGD step taken by hand at the perturbed weights."""

import keras
import numpy as np
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.training import awp
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer

GAMMA = 0.05


def small_config(**overrides):
    # float32 on every CPU (auto is bfloat16 on one with AVX512-BF16 or AMX): the step is compared
    # with a float32 tape's within float32 rounding
    return TrainConfig(**{**dict(model="small_cnn", width=0.25, epochs=2, batch_size=16,
                                 train_eps=4, eval_eps=4, method="strades", awp_enabled=True,
                                 awp_gamma=GAMMA, momentum=0.9, weight_decay=5e-4,
                                 learning_rate=0.1, lr_schedule="constant", mixed_precision="off",
                                 data=data_lib.DataConfig(max_train_examples=32,
                                                          max_eval_examples=8)),
                          **overrides})


def first_batch(splits, config):
    dataset = data_lib.training_dataset(splits.train, config.batch_size, 1, config.seed,
                                        augment=False)
    return next(iter(dataset))


def expected_perturbation(weights, gradients, gamma):
    return [gamma * np.linalg.norm(w) * g / np.linalg.norm(g) if w.ndim > 1 else np.zeros_like(w)
            for w, g in zip(weights, gradients)]


def plain_gradients(model, recipe, batch):
    """The recipe's loss gradient with an ordinary tape on ``model``'s own weights."""
    with tf.GradientTape() as tape:
        terms, _ = recipe_lib.loss(recipe, model, {}, batch, lambda *_: None)
    return [g.numpy() for g in tape.gradient(terms.total, model.trainable_variables)]


def test_the_perturbation_is_gamma_times_each_kernels_norm_along_its_gradient():
    config = small_config()
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    images, labels, indices = first_batch(splits, config)
    batch = recipe_lib.prepare(trainer.recipe, trainer.network, {}, images, labels, indices,
                               tf.constant(0, tf.int64), 2)
    statistics = [v.numpy() for v in trainer.network.non_trainable_variables]
    perturbation = awp.perturbation(
        trainer.network, lambda net: recipe_lib.loss(trainer.recipe, net, {}, batch,
                                                     lambda *_: None)[0].total, GAMMA)
    # the ascent pass leaves BatchNorm's moving statistics as they were
    for before, variable in zip(statistics, trainer.network.non_trainable_variables):
        np.testing.assert_array_equal(before, variable.numpy())

    clone = keras.models.clone_model(trainer.network)
    clone.set_weights(trainer.network.get_weights())
    weights = [v.numpy() for v in clone.trainable_variables]
    expected = expected_perturbation(weights, plain_gradients(clone, trainer.recipe, batch),
                                     GAMMA)
    moved = 0
    for variable, got, want in zip(clone.trainable_variables, perturbation, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-7, err_msg=variable.path)
        if variable.ndim > 1:
            moved += 1
            np.testing.assert_allclose(np.linalg.norm(got.numpy()),
                                       GAMMA * np.linalg.norm(variable.numpy()), rtol=1e-5)
        else:  # biases and BatchNorm scales and offsets stay
            assert not np.any(got.numpy())
    assert moved == 4  # three convolution kernels and the dense kernel


def test_the_step_is_a_plain_sgd_step_with_the_gradient_at_the_perturbed_weights():
    config = small_config()
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    images, labels, indices = first_batch(splits, config)
    clone = keras.models.clone_model(trainer.network)
    clone.set_weights(trainer.network.get_weights())
    statistics = [v.numpy() for v in clone.non_trainable_variables]
    batch = recipe_lib.prepare(trainer.recipe, clone, {}, images, labels, indices,
                               tf.constant(0, tf.int64), 2)

    weights = [v.numpy() for v in clone.trainable_variables]
    perturbation = expected_perturbation(weights, plain_gradients(clone, trainer.recipe, batch),
                                         GAMMA)
    for variable, value in zip(clone.non_trainable_variables, statistics):
        variable.assign(value)  # the ascent pass moved the clone's statistics: undo that
    for variable, w, v in zip(clone.trainable_variables, weights, perturbation):
        variable.assign(w + v)
    gradients = plain_gradients(clone, trainer.recipe, batch)  # at w + v, moving the statistics
    # PyTorch's coupled L2 on the perturbed weights, empty momentum buffer: w - lr (g + l2 (w+v))
    expected = [w - config.learning_rate * (g + config.weight_decay * (w + v))
                for w, v, g in zip(weights, perturbation, gradients)]

    trainer.fit(tf.data.Dataset.from_tensors((images, labels, indices)), epochs=1, verbose=0)
    for variable, want in zip(trainer.network.trainable_variables, expected):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-4, atol=1e-6,
                                   err_msg=variable.path)
    for variable, want in zip(trainer.network.non_trainable_variables,
                              clone.non_trainable_variables):
        np.testing.assert_allclose(variable.numpy(), want.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=variable.path)
    differs = [not np.allclose(w + v, w) for w, v in zip(weights, perturbation)]
    assert any(differs)  # the perturbation did move the weights the gradient was taken at


def test_no_perturbation_before_the_warm_up_ends():
    config = small_config(awp_warmup_epochs=1)
    splits = data_lib.load_data(config.data)
    with_awp, _ = build_trainer(config, splits)
    without, _ = build_trainer(small_config(awp_enabled=False), splits)
    batch = tf.data.Dataset.from_tensors(first_batch(splits, config))
    with_awp.fit(batch, epochs=1, verbose=0)
    without.fit(batch, epochs=1, verbose=0)
    for a, b in zip(with_awp.network.get_weights(), without.network.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
