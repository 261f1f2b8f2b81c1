"""Adversarial Weight Perturbation (AWP; Wu, Xia & Wang, NeurIPS 2020, "Adversarial Weight
Perturbation Helps Robust Generalization"), an add-on to any adversarial method (``--awp_enabled``).

Per step, on the batch the method trains on (its adversarial examples already made):

    g_l = d L(w) / d w_l                    (the method's training loss, training mode)
    v_l = gamma * ||w_l|| * g_l / ||g_l||   (each perturbed layer, ascent on the loss)
    w  <- optimizer step with  d L / d w evaluated at  w + v

The perturbation is layer-wise relative: each kernel moves by ``gamma`` times its own norm.
Source: the reference code csdongxian/AWP (``AT_AWP/utils_awp.py`` ``AdvWeightPerturb`` and
``trades_AWP/utils_awp.py`` ``TradesAWP``), which takes one plain SGD step of ``-L`` on a proxy
copy of the model in training mode and rescales the difference of each weight to
``||w_l|| / (||diff_l|| + 1e-20)``; the step size cancels, which gives the formula above.
As there:

- only the weights of rank > 1 move (convolution and dense kernels); biases and BatchNorm's
  scale and offset do not, and the perturbation pass leaves BatchNorm's moving statistics
  untouched (the reference's proxy model keeps its own; here ``stateless_call`` drops them);
- the ascent loss is the method's own training loss on the step's batch (AT: CE on the
  adversarial examples; TRADES: CE + beta KL), here whatever the recipe trains on, soft labels
  and GradAlign's regulariser included;
- the training forward at ``w + v`` does update BatchNorm's moving statistics;
- the coupled L2 weight decay acts on ``w + v`` (the reference's ``optimizer.step`` runs while
  the weights are perturbed), so ``weight_decay * v`` is added to the gradient;
- gamma: 1e-2 for AT (``AT_AWP/train_cifar10.py``, the paper's choice for AT and the default
  of ``--awp_gamma``), 5e-3 for TRADES (``trades_AWP/train_trades_cifar.py``): set
  ``--awp_gamma=0.005`` for the sTRADES-based methods (Fast-LS-l0) to follow the reference;
- warm-up: AT starts at epoch 0 (``--awp-warmup 0``); TRADES starts at its 10th epoch
  (``epoch >= 10`` with epochs counted from 1), i.e. ``--awp_warmup_epochs=9`` in our 0-based
  count. The default is 0.

Deviations: the reference perturbs by adding ``v`` into the live weights and subtracting it
after the optimizer step; we never write ``v`` into the weights: the gradient is taken through
``keras.Model.stateless_call`` at ``w + v`` and the optimizer steps ``w`` itself, so no rounding
from ``w + v - v`` is left in the weights. Under ``tf.distribute`` the ascent gradient is the
global-batch gradient (one all-reduce), so every replica computes the same ``v``.

l0 adaptation: none is needed; the adversarial examples are the trainer's sPGD ones.

Cost: one extra forward and backward pass of the training loss per step (the ascent pass, also
during the warm-up, where gamma is 0: a tf.cond cannot hold synchronised BatchNorm),
i.e. about twice the weight-gradient cost of the method alone; the attack's cost is unchanged.
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses.records import AddOn
from tf_fastls0.training.gradients import global_gradients
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class AwpSettings:
    enabled: bool = setting(False, "AWP: train at adversarially perturbed weights w + v, v_l = "
                            "awp_gamma ||w_l|| g_l / ||g_l|| per kernel (one extra forward and "
                            "backward per step).", old_names=("awp",))
    gamma: float = setting(
        0.01, "AWP: relative size gamma of the weight perturbation (the reference: 0.01 for AT, "
        "0.005 for TRADES).", lower=0.0, upper=1.0)
    warmup_epochs: int = setting(
        0, "AWP: epochs (0-based) trained without it first (the reference: 0 for AT, 9 for "
        "TRADES).", lower=0)


NORM_EPSILON = 1e-20  # the reference's EPS in diff_in_weights


def perturbed_layers(variables):
    """Which trainable variables AWP moves: the kernels (rank > 1), as the reference."""
    return [len(variable.shape) > 1 for variable in variables]


def weight_perturbation(weights, gradients, gamma, moved):
    """``v_l = gamma ||w_l|| g_l / (||g_l|| + 1e-20)`` where ``moved``, zeros elsewhere."""
    return [gamma * tf.norm(w) / (tf.norm(g) + NORM_EPSILON) * g if move else tf.zeros_like(w)
            for w, g, move in zip(weights, gradients, moved)]


def is_active(epoch, warmup_epochs):
    """AWP from 0-based epoch ``warmup_epochs`` on."""
    return tf.cast(epoch, tf.int64) >= warmup_epochs


class StatelessNetwork:
    """``network`` called at the given trainable values, its state threaded from call to call
    and kept here, not written back (``state`` holds the non-trainable values after the calls)."""

    def __init__(self, network, trainable_values):
        self.network = network
        self.trainable_values = trainable_values
        self.state = [variable.value for variable in network.non_trainable_variables]

    def __call__(self, images, training=False):
        outputs, self.state = self.network.stateless_call(self.trainable_values, self.state,
                                                          images, training=training)
        return outputs

    def write_state(self):
        for variable, value in zip(self.network.non_trainable_variables, self.state):
            variable.assign(value)


def perturbation(network, loss_fn, gamma):
    """AWP's ``v`` for the step: ``loss_fn(network_like)`` is the training loss (this replica's
    share) of a network-like callable; BatchNorm statistics are left as they are."""
    weights = [tf.convert_to_tensor(v.value) for v in network.trainable_variables]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(weights)
        total = loss_fn(StatelessNetwork(network, weights))
    gradients, _ = global_gradients(tape.gradient(total, weights))
    gradients = [tf.zeros_like(w) if g is None else g for w, g in zip(weights, gradients)]
    return weight_perturbation(weights, gradients, gamma,
                               perturbed_layers(network.trainable_variables))


def perturbed_gradients(network, optimizer, loss_at, batch, settings, norm_wanted=True):
    """The record's hook: the loss terms, new soft-label rows and global gradients (with their
    norm) at the perturbed weights ``w + v``; ``loss_at(network_like, tracked)`` is the step's
    loss (``(LossTerms, rows)``, accuracies tracked if ``tracked``). BatchNorm statistics move as
    in a plain step, from the forward at ``w + v``."""
    weights = [tf.convert_to_tensor(v.value) for v in network.trainable_variables]
    # A gamma of 0 during the warm-up rather than a tf.cond: a cond around synchronised
    # BatchNorm's collectives cannot run under MirroredStrategy.
    gamma = settings.gamma * tf.cast(is_active(batch.epoch, settings.warmup_epochs), tf.float32)
    moved = perturbation(network, lambda like: loss_at(like, False)[0].total, gamma)
    perturbed = [w + v for w, v in zip(weights, moved)]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(perturbed)
        stateless = StatelessNetwork(network, perturbed)
        terms, new_rows = loss_at(stateless, True)
        scaled = optimizer.scale_loss(terms.total)
    gradients, gradient_norm = global_gradients(tape.gradient(scaled, perturbed), norm_wanted)
    stateless.write_state()
    # The reference's coupled L2 decay acts on the perturbed weights: add its v part (this
    # replica's share of it; the optimizer sums the replicas' gradients). AdamW's decoupled
    # decay has no gradient term; it acts on w alone (its lr * decay * v part is left out).
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # float16's
    share = getattr(inner, "l2", 0.0) / distributed.num_replicas_in_sync()
    share = optimizer.scale_loss(share)  # as the loss's gradients are scaled
    gradients = [g + share * v for g, v in zip(gradients, moved)]
    return terms, new_rows, gradients, gradient_norm


def check(config):
    if config.awp.warmup_epochs >= config.epochs:
        raise UsageError(f"--awp_warmup_epochs={config.awp.warmup_epochs} must be smaller than "
                         f"--epochs={config.epochs}: AWP would never run")


ADD_ON = AddOn("awp", "AWP", AwpSettings, switch=True, switch_key="awp_enabled",
               inert=lambda settings: not settings.gamma,
               check=check, gradients=perturbed_gradients)
