"""LAP, layer-aware adversarial weight perturbation (Lin et al., ICML 2024, "Layer-Aware
Analysis of Catastrophic Overfitting: Revealing the Pseudo-Robust Shortcut Dependency"); the
method ``n_lap`` is 1-step sAT with N-FGSM's noise and this perturbation, the paper's N-LAP.

Each step, before the attack, every kernel l = 1..L (the trainable variables of rank > 1, in the
order of ``network.trainable_variables``, the forward order of our models; L = 21 for
PreActResNet-18) takes a step scaled to its weight norm, with a strength that falls from the first
layer to the last:

    w_l <- w_l + lambda_l * ||w_l|| * d_l / ||d_l||,    lambda_l = beta * (1 - (ln l / ln L)^gamma),

d_l a direction from g_l = grad_(w_l) CE(f_w(x), y), x the noisy image, the CE's forward in
training mode. The step is not undone: the perturbations accumulate over the steps (the paper's
answer to the "persistent shortcuts" that one-step AWP, which restores the weights, leaves in
place); the SGD step is then taken from the perturbed weights, on the CE of the sPGD examples.
Biases and BatchNorm parameters are not perturbed.

Sources: the reference code tmllab/2024_ICML_LAP, ``CIFAR10/LAP.py`` (the training loop) with
``utils.py``'s ``diff_in_weights`` and ``add_into_weights``, and the paper's text (method section
and ablations: weight perturbation, L2-normalised per layer, strengths decreasing from former to
latter layers set by gamma, accumulated, weight perturbation first; the reference README's N-LAP
settings on CIFAR-10: gamma = 0.3, beta = 0.001 / 0.002 / 0.005 / 0.75 at eps = 8 / 12 / 16 / 32
of 255). The reference, per batch: one training-mode forward and backward at the N-FGSM start
gives the input gradient (FGSM) and the weight gradient; a real optimiser step (its training SGD:
momentum 0.9, weight decay 5e-4, the scheduled learning rate) is taken and its change Delta
measured (``diff_in_weights(proxy, model)``: after minus saved), the weights, BatchNorm's running
statistics and the optimiser state are restored (``load_state_dict``), and each kernel gets
``(1 - (ln l / ln layer_number)^gamma) * beta * ||w_l|| * Delta_l / ||Delta_l||`` added, before
the training forward at the FGSM example.

``--lap_step`` picks the direction d_l:

- ``authors`` (the default): the reference's, d_l = Delta_l = -lr * (momentum * b_l + g_l +
  weight_decay * w_l), the change the run's own SGD step would make (``optimizer.SGDWithL2.
  step_change``, its momentum buffer b_l read, nothing written: the step on a copy, restored),
  a normalised *descent* step that leans on the momentum of the past updates. The weight
  gradient's forward leaves BatchNorm's moving statistics as they were (``keras.Model.
  stateless_call``), as the reference's restore does. A learning rate of 0 (a warm-up's start)
  gives Delta = 0 and no step, as there. Needs ``--optimizer=sgd``.
- ``ascent``: this project's first reading of the paper, which calls the perturbation
  adversarial (as AWP's, from which the code is adapted): d_l = g_l, the normalised ascent step,
  without momentum or weight decay; its forward moves BatchNorm's moving statistics. Measured at
  Table 6's CPU scale (small CNN x0.5, 5,000 images, 10 epochs, quick sAA on 500 images;
  ``benchmarks/configs/n_lap_check_cpu.flags``): over three seeds 15.8 +- 1.5 % clean, 5.7 +-
  1.2 % sAA, against 31.2 % and 9.2 % for the same run with ``--lap_beta=0``; the ascent step
  hurts at this scale (issue 39).

What we follow, and the deviations:

- Strengths: the reference's ``layer_number`` is 21 for PreActResNet-18, 35 for WideResNet-34-10
  and 50 for ViT-small, each network's count of perturbed kernels (for ResNet-18: 1 + 4 + 5 + 5 +
  5 convolutions and the classifier), so its denominator is ln L and the classifier's strength is
  0. This module's first version read the paper's formula as ln(L + 1) with L counting every
  kernel; the reference's three counts fit ln(L + 1) only with L counting the layers before the
  classifier, so we take ln L as the reference does (issue 23). At gamma = 0.3 and L = 21 the two
  differ by about 1 % of beta per layer, except the classifier (0 here, 0.005 beta before).
- The weight gradient is a forward and backward of its own at the noisy image (in training mode,
  as the reference's; the paper's LAP-A variant, whose results it reports as equal), because our
  sPGD's backward gives input gradients only; and the attack is then run at the perturbed
  weights, where the reference's input gradient is taken at the saved ones (the paper orders
  weights before inputs). Under tf.distribute g is the global-batch gradient (all-reduced), so
  every replica takes the same step.
- The reference divides by ``||Delta_l|| + 1e-20``; here a zero Delta_l gives a zero step.

l0 adaptation: the input attack is the trainer's 1-step sPGD from N-FGSM's sparse noise. The
Fast-LS-l0 paper gives no l0 values that we found: we keep gamma = 0.3 and take beta = 0.005
(``--lap_beta``, ``--lap_gamma``). Kernel order: the reference counts PyTorch's parameter order, in
which a residual block's shortcut convolution comes after its second convolution; ours is the
Keras models' order, which may place it elsewhere in the block (its strength then differs by a
position).
"""

import dataclasses
import functools
import math

import keras
import tensorflow as tf

from tf_fastls0.losses import distributed, per_example
from tf_fastls0.losses.records import AddOn
from tf_fastls0.training.optimizer import SGDWithL2
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting


STEPS = ("authors", "ascent")


@dataclasses.dataclass(frozen=True)
class LapSettings:
    beta: float = setting(0.005, "N-LAP: strength beta of the first layer's weight step, "
                          "as a fraction of its weight norm.", lower=0.0, upper=10.0)
    gamma: float = setting(0.3, "N-LAP: gamma of the layer strengths beta (1 - (ln l / ln "
                           "L)^gamma), L the kernels; smaller falls faster from the first layer.",
                           lower=1e-3, upper=100.0)
    step: str = setting(
        "authors", "N-LAP: the weight step's direction. authors: the reference code's, the "
        "change the run's SGD step (momentum, weight decay) would make, normalised per layer "
        "(a descent step; needs --optimizer=sgd); ascent: the normalised gradient ascent step "
        "(the paper's 'adversarial' wording; this project's earlier form).", choices=STEPS,
        absent_means="ascent")  # the only form before the setting existed


def layer_strengths(count, beta, gamma):
    """``lambda_l = beta * (1 - (ln l / ln count)^gamma)`` for l = 1..count (one kernel: beta)."""
    if count == 1:
        return [beta]
    top = math.log(count)
    return [beta * (1.0 - (math.log(layer) / top) ** gamma) for layer in range(1, count + 1)]


def perturbed_variables(network):
    """The kernels LAP perturbs, first layer first: trainable variables of rank > 1."""
    return [v for v in network.trainable_variables if len(v.shape) > 1]


def scaled_steps(weights, directions, strengths):
    """``lambda_l ||w_l|| d_l / ||d_l||`` per layer (0 where the direction is 0)."""
    return [strength * tf.norm(w) * tf.math.divide_no_nan(d, tf.norm(d))
            for w, d, strength in zip(weights, directions, strengths)]


def weight_gradients(network, variables, images, labels):
    """The global-batch gradient of the mean CE at ``images`` (training mode, as the reference's
    forward; BatchNorm's moving statistics move with it)."""
    with tf.GradientTape() as tape:
        logits = network(images, training=True)
        share = distributed.global_batch_mean(per_example.cross_entropy(labels, logits))
    return _all_reduced(tape.gradient(share, variables))


def stateless_gradients(network, images, labels):
    """As ``weight_gradients`` for the kernels, leaving BatchNorm's moving statistics as they
    were (the reference restores them with the weights)."""
    weights = [tf.convert_to_tensor(v.value) for v in network.trainable_variables]
    kernels = [w for w in weights if len(w.shape) > 1]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(kernels)
        state = [v.value for v in network.non_trainable_variables]
        logits, _ = network.stateless_call(weights, state, images, training=True)
        share = distributed.global_batch_mean(per_example.cross_entropy(labels, logits))
    return _all_reduced(tape.gradient(share, kernels))


def _all_reduced(gradients):
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    return gradients


def sgd_of(optimizer):
    """The run's SGD (inside float16's loss scaling, if any), whose step the authors' form copies:
    tf_fastls0's ``SGDWithL2`` or Keras' own ``SGD``; a one-line error for any other optimiser."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not isinstance(inner, keras.optimizers.SGD):
        raise ValueError(f"N-LAP's lap_step='authors' takes an SGD step (--optimizer=sgd, or "
                         f"keras.optimizers.SGD), not one of {type(inner).__name__}: use SGD, or "
                         f"lap_step='ascent'")
    return inner


def step_change(sgd, gradient, variable):
    """The change one step of ``sgd`` with ``gradient`` would make to ``variable``, nothing
    written. Keras' SGD keeps ``m <- momentum * m - lr * g`` and adds ``m`` (Nesterov: adds
    ``momentum * m_new - lr * g``); its decoupled ``weight_decay`` subtracts ``lr * wd * w``."""
    if isinstance(sgd, SGDWithL2):
        return sgd.step_change(gradient, variable)
    learning_rate = tf.cast(sgd.learning_rate, variable.dtype)
    step = -learning_rate * tf.cast(gradient, variable.dtype)
    if sgd.momentum:
        momentum = tf.cast(sgd.momentum, variable.dtype)
        moved = momentum * sgd.momentums[sgd._get_variable_index(variable)] + step
        step = momentum * moved + step if sgd.nesterov else moved
    if sgd.weight_decay:
        step -= learning_rate * tf.cast(sgd.weight_decay, variable.dtype) * variable
    return step


def _add_everywhere(variables, strategy, steps):
    add = lambda variable, step: variable.assign_add(step)  # noqa: E731
    return [strategy.extended.update(variable, add, args=(step,), group=True)
            for variable, step in zip(variables, steps)]


def directions(network, optimizer, images, labels, step):
    """Each kernel's d_l of ``step`` (``STEPS``) at ``images``."""
    variables = perturbed_variables(network)
    if step == "ascent":
        return weight_gradients(network, variables, images, labels)
    sgd = sgd_of(optimizer)
    gradients = stateless_gradients(network, images, labels)
    return [step_change(sgd, g, v) for g, v in zip(gradients, variables)]


def perturb(network, optimizer, images, labels, settings):
    """Moves the network's kernels by their layer-aware steps (``settings.step``), in every
    replica."""
    variables = perturbed_variables(network)
    steps = scaled_steps([v.value for v in variables],
                         directions(network, optimizer, images, labels, settings.step),
                         layer_strengths(len(variables), settings.beta, settings.gamma))
    tf.distribute.get_replica_context().merge_call(
        functools.partial(_add_everywhere, [v.value for v in variables]), args=(steps,))


def perturb_weights(network, batch, optimizer, settings):
    """The record's hook: the kernels moved at the batch's (noisy) images, before the attack;
    not restored (the perturbations accumulate over the steps, see above)."""
    perturb(network, optimizer, batch.images, batch.labels, settings)


def check(config):
    if config.lap.step == "authors" and config.optimizer != "sgd":
        raise UsageError(f"--lap_step=authors takes a step of --optimizer=sgd, not of "
                         f"--optimizer={config.optimizer}: use --optimizer=sgd or "
                         "--lap_step=ascent")


ADD_ON = AddOn("lap", "N-LAP", LapSettings, inert=lambda settings: not settings.beta,
               check=check, perturb_weights=perturb_weights)
