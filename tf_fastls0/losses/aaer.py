"""AAER, abnormal adversarial examples regularisation (Lin et al., NeurIPS 2023, "Eliminating
Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization"), on 1-step sPGD
examples; the method ``n_aaer`` adds N-FGSM's noise as the paper's N-AAER does.

Loss (reference code tmllab/2023_NeurIPS_AAER, ``CIFAR10/AAER.py``; the paper's Eq. 7 in the
reference's form):

    CE(f(x'), y) + lambda1 * (m / n) * (lambda2 * G + lambda3 * max(V_a - V_n, 0)),

x the noisy image (the attack's start point), x' its adversarial example, l_i = CE(f(x_i), y_i)
and l'_i = CE(f(x'_i), y_i). An example is abnormal when the attack lowered its loss,
l_i > l'_i, normal when it did not; m of the n examples are abnormal, and the regulariser is
added only when there are abnormal and normal examples:

- G = sum over abnormal i of (l_i - l'_i) / m, the loss they lost (raising l'_i lowers it);
- V_a = sum over abnormal i of ||f(x'_i) - f(x_i)||^2 / m, the variation of their outputs,
  V_n the same over the normal examples, held constant.

Only the variation V_a carries a gradient, through f(x'): the reference detaches f(x), l_i and
l'_i (``loss_after = loss.detach()``), so lambda2 * G and the factor m / n change the loss's value
and not the update. An earlier version let G's gradient through l'_i: that maximises the abnormal
examples' adversarial CE with net weight (lambda2 - 1) = 3, and with sPGD's one-step iterate, where
about half a batch is abnormal, the Table 6 CPU run diverged (regulariser 1.6e10 in epoch 1, NaN by
step 390; issue 23).
Both forwards are in training mode, the start point's first (as the reference orders them).
Reference lambdas at eps = 8/255: lambda1 = 1, lambda2 = 4, lambda3 = 1.5 (``--aaer_lambda1``,
``--aaer_lambda2``, ``--aaer_lambda3``); we found no l0 values in the Fast-LS-l0 paper and keep
them.

x' is the one-step attack's iterate itself (``OBJECTIVE.last_iterate``; the recipe
gives sPGD's ``last_iterate``), as the reference's FGSM step is: the abnormal examples are the
ones whose loss the step lowered. sPGD's usual output keeps the best of the start and the step
and returns the start wherever the step lowered the loss (issue 23): trained on that, the examples
AAER is about never reached the regulariser, and an earlier version compared two training-mode
forwards of one image that differed only by BatchNorm's batch statistics (73-88 % of a batch
"abnormal" by chance in a CPU-scale run; Table 6 at CPU scale collapsed to 12-13 % clean accuracy
when they counted, so that version left the unchanged examples out of m and the variations).

l0 adaptation and deviations: the start point is the N-FGSM sparse noise (0..2*eps random pixels,
``losses/sparse_noise.py``) instead of U(-2 eps, 2 eps) on every entry, and the 1-step attack is
sPGD (its own random start, then one step) instead of FGSM. sPGD leaves alone the images the model
already misclassifies at x (FGSM steps them too): their x' is sPGD's random start, a random
perturbation of ``train_eps`` pixels, judged like the others. The reference's step-size warm-up
over the first 5 epochs has no sPGD counterpart and is left out. With self-adaptive soft labels
every CE is to the rows (the adversarial term SAT-weighted, l and l' plain per-example soft CEs).

Logged: ``adversarial_ce`` (the term ``adversarial``), and ``abnormal_regulariser``, the
regulariser without lambda1 (the term ``clean``, its share).
Under tf.distribute m, n, V_n and the gate V_a > V_n are of the global batch.
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class AaerSettings:
    weight: float = setting(1.0, "N-AAER: overall weight lambda1 of the abnormal-example "
                            "regulariser.", lower=0.0, upper=1e4, key="aaer_lambda1")
    ce_weight: float = setting(4.0, "N-AAER: weight lambda2 of the loss the abnormal examples "
                               "lost to the attack.", lower=0.0, upper=1e4, key="aaer_lambda2")
    variation_weight: float = setting(
        1.5, "N-AAER: weight lambda3 of the abnormal examples' output variation beyond the "
        "normal ones'.", lower=0.0, upper=1e4, key="aaer_lambda3")


def _global_mean_share(values, mask, count):
    """This replica's share of ``sum over the global batch of mask * values / count``."""
    return tf.reduce_sum(tf.where(mask, values, tf.zeros_like(values))) / tf.maximum(count, 1.0)


def regulariser_share(start_logits, adv_logits, targets, ce_weight=AaerSettings.ce_weight,
                      variation_weight=AaerSettings.variation_weight):
    """This replica's share of ``(m / n) (lambda2 G + lambda3 max(V_a - V_n, 0))``, 0 unless
    there are abnormal and normal examples."""
    start_logits = tf.stop_gradient(start_logits)
    before = tf.stop_gradient(per_example.cross_entropy_to(targets, start_logits))
    after = per_example.cross_entropy_to(targets, adv_logits)
    abnormal = before > tf.stop_gradient(after)
    normal = tf.logical_not(abnormal)
    total = distributed.global_count(adv_logits)
    abnormal_count = distributed.global_sum(tf.reduce_sum(tf.cast(abnormal, tf.float32)))
    normal_count = distributed.global_sum(tf.reduce_sum(tf.cast(normal, tf.float32)))
    loss_gap = _global_mean_share(before - tf.stop_gradient(after), abnormal, abnormal_count)
    variation = tf.reduce_sum(tf.square(adv_logits - start_logits), axis=-1)
    abnormal_variation = _global_mean_share(variation, abnormal, abnormal_count)
    normal_variation = distributed.global_sum(
        _global_mean_share(variation, normal, normal_count))
    excess = abnormal_variation - normal_variation / distributed.num_replicas_in_sync()
    gated = tf.where(distributed.global_sum(excess) > 0, excess, tf.zeros_like(excess))
    value = abnormal_count / total * (ce_weight * loss_gap + variation_weight * gated)
    both_kinds = (abnormal_count > 0) & (normal_count > 0)
    return tf.where(both_kinds, value, tf.zeros_like(value))


def aaer_loss(clean_logits, adv_logits, targets, weight=AaerSettings.weight,
              ce_weight=AaerSettings.ce_weight,
              variation_weight=AaerSettings.variation_weight):
    """AAER's loss; ``clean_logits`` are the training-mode logits of the attack's start point,
    ``adv_logits`` those of the one-step attack's iterate."""
    adversarial = classification_term(adv_logits, targets)
    regulariser = regulariser_share(clean_logits, adv_logits, targets, ce_weight,
                                    variation_weight)
    return ObjectiveTerms(adversarial + weight * regulariser, regulariser, adversarial)


OBJECTIVE = Objective("aaer", aaer_loss, "AAER", reads_clean=True, settings=AaerSettings,
                      last_iterate=True, log_names=("abnormal_regulariser", "adversarial_ce"))
