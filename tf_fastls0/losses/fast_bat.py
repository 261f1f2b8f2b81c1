"""Fast-BAT, fast bi-level adversarial training (Zhang et al., ICML 2022, "Revisiting and
Advancing Fast Adversarial Training Through the Lens of Bi-Level Optimization"), on 1-step sPGD
examples: the CE of the adversarial examples plus the implicit-gradient term of the bi-level
problem, a term the recipe adds (not an objective).

Adversarial training as a bi-level problem: min over theta of l(theta, delta*(theta)), delta*
the lower-level attack's solution. Fast-BAT linearises the attack loss around its solution with
a quadratic term lambda/2 ||delta - z||^2 and differentiates delta* implicitly; under the box
constraints only the entries of delta* strictly inside them (H = 1) move with theta:

    d delta* / d theta = -(1 / lambda) H grad^2_(delta theta) l_atk,     l_atk = -CE,

so the update's gradient is grad_theta CE(x') + the cross term, the gradient of

    C(theta) = (1 / (lambda n)) sum_i < grad_x CE(f_theta(x'_i), y_i), H_i * g_i >,

g_i = grad_x CE(f(x'_i), y_i) held constant (reference code OPTML-Group/Fast-BAT, ``trainer.py``,
mode ``fast_bat``: ``cross_term``, ``hessian_inv_prod``, ``H``). ``C`` itself is logged as
``implicit_correction``; only its gradient matters. Reference lambda = 10 (``--lmbda``; ours
``--fast_bat_weight``). The reference runs every pass in training mode; here the two passes
of this term do, while the attack keeps the trainer's inference mode.

l0 adaptation (the Fast-LS-l0 paper's own adaptation could not be found; this is ours): the
lower-level problem is the l0 attack with its support (the eps pixels sPGD changed) fixed, so
H = 1 on the entries of those pixels that lie strictly inside [0, 1] and 0 elsewhere: pixels
off the support are held by the l0 constraint as the clamped entries are by the l-inf box. The
attack itself is the trainer's 1-step sPGD (the reference takes two non-sign gradient steps of
size 5000/255 from a uniform start; sPGD's step is its own). The reference evaluates the mixed
second derivative at its last step's starting point; sPGD keeps that point internal, so we
evaluate it at the adversarial example, the lower-level solution itself (the implicit function
theorem's point). With self-adaptive soft labels every CE is to the rows.

Under tf.distribute C is a global-batch mean (``distributed.global_batch_mean``).
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import distributed, per_example
from tf_fastls0.losses.grad_align import input_gradients
from tf_fastls0.losses.records import AddOn
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class FastBatSettings:
    weight: float = setting(
        10.0, "Fast-BAT: lambda of the linearised attack problem; its implicit-gradient term "
        "scales as 1 / lambda.", lower=1e-6, upper=1e6, old_names=("fast_bat_lambda",))


def free_entries(images, adversarial):
    """H: 1 on the channels of the pixels the attack changed that lie strictly inside (0, 1)."""
    changed = tf.reduce_any(tf.not_equal(adversarial, images), axis=-1, keepdims=True)
    inside = (adversarial > 0.0) & (adversarial < 1.0)
    return tf.cast(changed & inside, adversarial.dtype)


def outer_gradients(network, adversarial, targets):
    """``g_i = grad_x CE(f(x'_i), y_i)`` (training mode), a constant of the step."""
    with tf.GradientTape() as tape:
        tape.watch(adversarial)
        loss = tf.reduce_sum(per_example.cross_entropy_to(
            targets, network(adversarial, training=True)))
    return tf.stop_gradient(tape.gradient(loss, adversarial))


def implicit_correction(network, images, adversarial, targets, lam=FastBatSettings.weight):
    """This replica's share of C(theta), to be computed inside the weights' tape."""
    direction = free_entries(images, adversarial) * outer_gradients(network, adversarial,
                                                                    targets) / lam
    mixed = input_gradients(network, adversarial, targets)
    products = tf.reduce_sum(tf.reshape(mixed * direction, [tf.shape(adversarial)[0], -1]), -1)
    return distributed.global_batch_mean(products)


def loss_term(network, batch, targets, settings, recipe):
    """C(theta), added to the loss and logged (the record's hook)."""
    del recipe
    correction = implicit_correction(network, batch.images, batch.adversarial, targets,
                                     settings.weight)
    return correction, {"implicit_correction": correction}


ADD_ON = AddOn("fast_bat", "Fast-BAT", FastBatSettings, log_names=("implicit_correction",),
               loss_term=loss_term)
