"""AAER, abnormal adversarial examples regularisation (Lin et al., NeurIPS 2023, "Eliminating
Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization"), on 1-step sPGD
examples; the method ``n_aaer`` adds N-FGSM's noise as the paper's N-AAER does.

Loss (reference code tmllab/2023_NeurIPS_AAER, ``CIFAR10/AAER.py``; the paper's Eq. 7 in the
reference's form):

    CE(f(x'), y) + lambda1 * (m / n) * (lambda2 * G + lambda3 * max(V_a - V_n, 0)),

x the attack's start point, x' its adversarial example, l_i = CE(f(x_i), y_i)
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

The start point x is where the attack's step starts, as the reference's ``output_org`` and
``loss_before`` are taken at ``X + delta``, its random start (``CIFAR10/AAER.py``, the training
loop): here sPGD's own start, its random ``p ~ U(-1, 1)`` on ``train_eps`` random pixels of the
N-FGSM-noised image (``SparsePGDResult.start``; the record's ``clean_at_start``), so "abnormal"
means "the step lowered the loss" and V_a, V_n measure the step's change of the output. An
earlier version took f(x) at the noised image without sPGD's start (issue 39): "abnormal" then
meant "the iterate's loss is below the noised image's", and the variations had another base.
The clean forward at the start is also what ``accuracy`` scores and, with soft labels, what the
rows move toward.
Reference lambdas at eps = 8/255: lambda1 = 1, lambda2 = 4, lambda3 = 1.5 (``--aaer_weight``,
``--aaer_ce_weight``, ``--aaer_variation_weight``); we found no l0 values in the Fast-LS-l0 paper
and keep them.

x' is the one-step attack's iterate itself (``OBJECTIVE.last_iterate``; the recipe
gives sPGD's ``last_iterate``), as the reference's FGSM step is: the abnormal examples are the
ones whose loss the step lowered. sPGD's usual output keeps the best of the start and the step
and returns the start wherever the step lowered the loss (issue 23): trained on that, the examples
AAER is about never reached the regulariser, and an earlier version compared two training-mode
forwards of one image that differed only by BatchNorm's batch statistics (73-88 % of a batch
"abnormal" by chance in a CPU-scale run; Table 6 at CPU scale collapsed to 12-13 % clean accuracy
when they counted, so that version left the unchanged examples out of m and the variations).

l0 adaptation and deviations: the start point is the N-FGSM sparse noise (0..2*eps random pixels,
``losses/sparse_noise.py``) with sPGD's random start on it, instead of U(-2 eps, 2 eps) on every
entry, and the step is sPGD's instead of FGSM's. sPGD leaves alone the images the model
already misclassifies (inference mode, at the noised image; FGSM steps them too): their x' is
their start, so l_i = l'_i up to BatchNorm's batch statistics (which differ between the two
training-mode forwards), and they count as normal unless that difference makes l_i > l'_i. The
reference's step-size warm-up over the first 5 epochs has no sPGD counterpart and is left out.
With self-adaptive soft labels every CE is to the rows (the adversarial term SAT-weighted, l and
l' plain per-example soft CEs).

Logged: ``adversarial_ce`` (the term ``adversarial``), ``abnormal_regulariser``, the
regulariser without lambda1 (the term ``clean``, its share), and ``abnormal_share``, m / n, the
quantity the method turns on (per step under ``step/``, the epoch's mean under ``epoch_``;
the reference logs the epoch's count, ``Ab NUM``).
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
                            "regulariser.", lower=0.0, upper=1e4,
                            old_names=("aaer_lambda1",))
    ce_weight: float = setting(4.0, "N-AAER: weight lambda2 of the loss the abnormal examples "
                               "lost to the attack.", lower=0.0, upper=1e4,
                               old_names=("aaer_lambda2",))
    variation_weight: float = setting(
        1.5, "N-AAER: weight lambda3 of the abnormal examples' output variation beyond the "
        "normal ones'.", lower=0.0, upper=1e4, old_names=("aaer_lambda3",))


def _global_mean_share(values, mask, count):
    """This replica's share of ``sum over the global batch of mask * values / count``."""
    return tf.reduce_sum(tf.where(mask, values, tf.zeros_like(values))) / tf.maximum(count, 1.0)


def _losses(start_logits, adv_logits, targets):
    """l_i and l'_i (no gradient), and which examples are abnormal (l_i > l'_i)."""
    before = tf.stop_gradient(per_example.cross_entropy_to(targets, start_logits))
    after = tf.stop_gradient(per_example.cross_entropy_to(targets, adv_logits))
    return before, after, before > after


def abnormal_share(start_logits, adv_logits, targets):
    """m / n over the global batch: the share of examples whose loss the attack's step lowered."""
    abnormal = _losses(start_logits, adv_logits, targets)[2]
    return (distributed.global_sum(tf.reduce_sum(tf.cast(abnormal, tf.float32)))
            / distributed.global_count(adv_logits))


def regulariser_share(start_logits, adv_logits, targets, ce_weight=AaerSettings.ce_weight,
                      variation_weight=AaerSettings.variation_weight):
    """This replica's share of ``(m / n) (lambda2 G + lambda3 max(V_a - V_n, 0))``, 0 unless
    there are abnormal and normal examples."""
    start_logits = tf.stop_gradient(start_logits)
    before, after, abnormal = _losses(start_logits, adv_logits, targets)
    normal = tf.logical_not(abnormal)
    total = distributed.global_count(adv_logits)
    abnormal_count = distributed.global_sum(tf.reduce_sum(tf.cast(abnormal, tf.float32)))
    normal_count = distributed.global_sum(tf.reduce_sum(tf.cast(normal, tf.float32)))
    loss_gap = _global_mean_share(before - after, abnormal, abnormal_count)
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
    ``adv_logits`` those of the one-step attack's iterate. Its diagnostic ``abnormal_share`` is
    m / n."""
    adversarial = classification_term(adv_logits, targets)
    regulariser = regulariser_share(clean_logits, adv_logits, targets, ce_weight,
                                    variation_weight)
    return ObjectiveTerms(adversarial + weight * regulariser, regulariser, adversarial,
                          {"abnormal_share": abnormal_share(clean_logits, adv_logits, targets)})


OBJECTIVE = Objective("aaer", aaer_loss, "AAER", reads_clean=True, settings=AaerSettings,
                      last_iterate=True, clean_at_start=True,
                      log_names=("abnormal_regulariser", "adversarial_ce"),
                      diagnostics=("abnormal_share",))
