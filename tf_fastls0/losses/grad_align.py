"""GradAlign, the gradient-alignment regulariser (Andriushchenko & Flammarion, NeurIPS 2020),
added to a 1-step sPGD objective.

Regulariser (paper Eq. 6; reference code tml-epfl/understanding-fast-adv-training, ``train.py``
and ``utils.get_input_grad``):

    lambda * E_(x, y) [1 - cos(grad_x l(x, y), grad_x l(x + eta, y))],

l the cross-entropy, eta a random point of the threat model, the mean taken over the examples
whose two gradients are both non-zero (as the reference filters them), the first gradient held
constant and the second differentiated through (double backpropagation), both in training mode.
The reference uses lambda = 0.2 at eps = 8/255 on CIFAR-10 (``--grad_align_weight``; the
Fast-LS-l0 paper gives no l0 value that we could find, so we keep 0.2).

l0 adaptation: eta is the l0 analogue of a uniform draw from the l-inf ball: exactly ``eps``
distinct random pixels (h, w), each channel there moved by U(-1, 1), the result clipped to
[0, 1] (sPGD's random start). The attack whose CE is trained on is the trainer's 1-step sPGD in
place of FGSM. With self-adaptive soft labels l is the CE to the soft rows.

Under tf.distribute the mean is over the global batch (``distributed.global_weighted_mean``).
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses.records import AddOn
from tf_fastls0.utils import keyed_random
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class GradAlignSettings:
    weight: float = setting(0.2, "GradAlign: weight of the gradient-alignment regulariser.",
                            lower=0.0, upper=1e4, old_names=("grad_align_lambda",))


def random_sparse_point(images, eps, keys, seed=0, counter=0):
    """``clip(x + M * U(-1, 1), 0, 1)``, M exactly ``eps`` random pixels per image."""
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    scores = keyed_random.uniform(keys, [height * width], seed, counter,
                                  keyed_random.STREAM_GRADALIGN_POSITIONS)
    ranks = tf.argsort(tf.argsort(scores, axis=-1, stable=True), axis=-1, stable=True)
    mask = tf.reshape(ranks < eps, [-1, height, width, 1])
    values = keyed_random.uniform(keys, shape[1:], seed, counter,
                                  keyed_random.STREAM_GRADALIGN_VALUES, minval=-1.0, maxval=1.0,
                                  dtype=images.dtype)
    return tf.clip_by_value(images + tf.cast(mask, images.dtype) * values, 0.0, 1.0)


def input_gradients(network, images, targets):
    """``grad_x l(x, y)`` of each example (training mode); differentiable when recorded."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(per_example.cross_entropy_to(
            targets, network(images, training=True)))
    return tape.gradient(loss, images)


def misalignment_share(clean_gradients, noisy_gradients):
    """This replica's share of the global mean of ``1 - cos`` over examples with both gradients
    non-zero; ``clean_gradients`` are constants."""
    first = tf.reshape(tf.stop_gradient(clean_gradients), [tf.shape(clean_gradients)[0], -1])
    second = tf.reshape(noisy_gradients, [tf.shape(noisy_gradients)[0], -1])
    first_norm, second_norm = tf.norm(first, axis=-1), tf.norm(second, axis=-1)
    nonzero = tf.cast((first_norm > 0) & (second_norm > 0), first.dtype)
    cosine = tf.math.divide_no_nan(tf.reduce_sum(first * second, axis=-1),
                                   first_norm * second_norm)
    return distributed.global_weighted_mean(1.0 - cosine, nonzero)


def gradient_misalignment(network, images, targets, eps, keys, seed=0, counter=0):
    """The regulariser without lambda (its share), to be computed inside the weights' tape."""
    clean_gradients = input_gradients(network, images, targets)
    noisy = random_sparse_point(images, eps, keys, seed, counter)
    return misalignment_share(clean_gradients, input_gradients(network, noisy, targets))


def loss_term(network, batch, targets, settings, recipe):
    """``lambda`` times the regulariser, and the regulariser logged (the record's hook)."""
    misalignment = gradient_misalignment(network, batch.images, targets, recipe.eps,
                                         batch.indices, recipe.seed, batch.step)
    return settings.weight * misalignment, {"gradient_misalignment": misalignment}


ADD_ON = AddOn("grad_align", "GradAlign", GradAlignSettings,
               log_names=("gradient_misalignment",), inert=lambda settings: not settings.weight,
               loss_term=loss_term)
