"""LAP, layer-aware adversarial weight perturbation (Lin et al., ICML 2024, "Layer-Aware
Analysis of Catastrophic Overfitting: Revealing the Pseudo-Robust Shortcut Dependency"); the
method ``n_lap`` is 1-step sAT with N-FGSM's noise and this perturbation, the paper's N-LAP.

Each step, before the attack, every layer l = 1..L (the kernels of rank > 1, in the order of
``network.trainable_variables``, which is the forward order of our models) takes an ascent step
of the loss, scaled to the layer's weight norm with a strength that falls from the first layer
to the last:

    w_l <- w_l + lambda_l * ||w_l|| * g_l / ||g_l||,    g_l = grad_(w_l) CE(f_w(x), y),
    lambda_l = beta * (1 - (ln l / ln(L + 1))^gamma),

x the noisy image (the attack's start point). The step is not undone: the perturbations
accumulate over the steps (the paper's answer to the "persistent shortcuts" that one-step AWP,
which restores the weights, leaves in place); the SGD step is then taken from the perturbed
weights, on the CE of the sPGD examples crafted against them (weights perturbed before
inputs, as the paper orders them). Biases and BatchNorm parameters are not perturbed (AWP's
rule, which LAP builds on).

Sources and what we chose: the paper's text (method section and ablations: L2-normalised
per-layer weight perturbation, strengths decreasing from former to latter layers set by
gamma, accumulation, weight perturbation first) and the reference README's N-LAP settings on
CIFAR-10, gamma = 0.3 and beta = 0.001 / 0.002 / 0.005 / 0.75 at eps = 8 / 12 / 16 / 32 (of
255). We could not read the reference ``LAP.py``, so the schedule lambda_l above is our reading
of the paper's formula and "not undone" our reading of "accumulate"; both should be checked
against the reference code. The Fast-LS-l0 paper gives no l0 values that we found: we keep
gamma = 0.3 and take beta = 0.005 (``--lap_beta``, ``--lap_gamma``).

l0 adaptation and deviations: the input attack is the trainer's 1-step sPGD from N-FGSM's
sparse noise. The paper draws g_l from the attack's own backward pass; our sPGD's backward
gives input gradients only, so g is one extra forward and backward (the paper's LAP-A variant,
whose results it reports as equal), in inference mode like the attack, with CE to the labels.
Under tf.distribute g is the global-batch gradient (all-reduced), so every replica takes the
same step.
"""

import functools
import math

import tensorflow as tf

from tf_fastls0.losses import distributed, per_example

PAPER_GAMMA = 0.3
DEFAULT_BETA = 0.005  # the reference's N-LAP value at eps = 16/255


def layer_strengths(count, beta, gamma):
    """``lambda_l = beta * (1 - (ln l / ln(count + 1))^gamma)`` for l = 1..count."""
    top = math.log(count + 1)
    return [beta * (1.0 - (math.log(layer) / top) ** gamma) for layer in range(1, count + 1)]


def perturbed_variables(network):
    """The kernels LAP perturbs, first layer first: trainable variables of rank > 1."""
    return [v for v in network.trainable_variables if len(v.shape) > 1]


def ascent_steps(weights, gradients, strengths):
    """``lambda_l ||w_l|| g_l / ||g_l||`` per layer (0 where the gradient is 0)."""
    return [strength * tf.norm(w) * tf.math.divide_no_nan(g, tf.norm(g))
            for w, g, strength in zip(weights, gradients, strengths)]


def weight_gradients(network, variables, images, labels):
    """The global-batch gradient of the mean CE at ``images`` (inference mode)."""
    with tf.GradientTape() as tape:
        logits = network(images, training=False)
        share = distributed.global_batch_mean(per_example.cross_entropy(labels, logits))
    gradients = tape.gradient(share, variables)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    return gradients


def _add_everywhere(variables, strategy, steps):
    add = lambda variable, step: variable.assign_add(step)  # noqa: E731
    return [strategy.extended.update(variable, add, args=(step,), group=True)
            for variable, step in zip(variables, steps)]


def perturb(network, images, labels, beta, gamma):
    """Moves the network's kernels by their layer-aware ascent steps, in every replica."""
    variables = perturbed_variables(network)
    gradients = weight_gradients(network, variables, images, labels)
    steps = ascent_steps([v.value for v in variables], gradients,
                         layer_strengths(len(variables), beta, gamma))
    tf.distribute.get_replica_context().merge_call(
        functools.partial(_add_everywhere, [v.value for v in variables]), args=(steps,))
