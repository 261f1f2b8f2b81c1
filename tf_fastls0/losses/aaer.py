"""AAER, abnormal adversarial examples regularisation (Lin et al., NeurIPS 2023, "Eliminating
Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization"), on 1-step sPGD
examples; the method ``n_aaer`` adds N-FGSM's noise as the paper's N-AAER does.

Loss (reference code, ``train_aaer.py``; the paper's Eq. 7 in the reference's form):

    CE(f(x'), y) + lambda1 * (m / n) * (lambda2 * G + lambda3 * max(V_a - V_n, 0)),

x the noisy image (the attack's start point), x' its adversarial example, l_i = CE(f(x_i), y_i)
and l'_i = CE(f(x'_i), y_i). An example is abnormal when the attack lowered its loss,
l_i > l'_i, normal when it did not; m of the n examples are abnormal, and the regulariser is
added only when there are abnormal and normal examples:

- G = sum over abnormal i of (l_i - l'_i) / m, the loss they lost (raising l'_i lowers it);
- V_a = sum over abnormal i of ||f(x'_i) - f(x_i)||^2 / m, the variation of their outputs,
  V_n the same over the normal examples, held constant.

f(x) and l_i are constants (the reference detaches them); the gradient flows through f(x') only.
Both forwards are in training mode, the start point's first (as the reference orders them).
Reference lambdas at eps = 8/255: lambda1 = 1, lambda2 = 4, lambda3 = 1.5 (``--aaer_lambda1``,
``--aaer_lambda2``, ``--aaer_lambda3``); we found no l0 values in the Fast-LS-l0 paper and keep
them.

l0 adaptation and deviations. Only the examples the attack changed are abnormal or normal
(``attacked``; m and the variations are over them, n is still the whole batch). The reference's
FGSM always moves its start; 1-step sPGD keeps the best of its start and its step (SPEC §2) and
returns the start unchanged where the step did not raise the loss, 73-88 % of a batch in the
first 40 steps of a CPU-scale run (small CNN x0.5, eps 120). For those x' = x, and l_i > l'_i
compared two training-mode forwards of one image that differ only by BatchNorm's batch
statistics: about half of them were "abnormal" by chance, and the lambda2 term, which raises
l'_i with weight lambda2 against the CE's 1, turned the update into an ascent on their loss.
Counting them collapsed training to a constant prediction in the first epoch (Table 6 at CPU
scale: clean accuracy 12-13 %, chance is 10 %). The start point is the N-FGSM sparse noise
(0..2*eps random pixels, ``losses/sparse_noise.py``) instead of U(-2 eps, 2 eps) on every entry,
and the 1-step attack is sPGD instead of FGSM; the reference's step-size warm-up over the first 5
epochs has no sPGD counterpart and is left out. With self-adaptive soft labels every CE is to the
rows (the adversarial term SAT-weighted, l and l' plain per-example soft CEs).

Logged: ``adversarial`` is the CE; ``clean`` the regulariser without lambda1 (its share).
Under tf.distribute m, n, V_n and the gate V_a > V_n are of the global batch.
"""

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term

REFERENCE_LAMBDA1 = 1.0
REFERENCE_LAMBDA2 = 4.0
REFERENCE_LAMBDA3 = 1.5


def _global_mean_share(values, mask, count):
    """This replica's share of ``sum over the global batch of mask * values / count``."""
    return tf.reduce_sum(tf.where(mask, values, tf.zeros_like(values))) / tf.maximum(count, 1.0)


def regulariser_share(start_logits, adv_logits, targets, ce_weight=REFERENCE_LAMBDA2,
                      variation_weight=REFERENCE_LAMBDA3, attacked=None):
    """This replica's share of ``(m / n) (lambda2 G + lambda3 max(V_a - V_n, 0))``, 0 unless
    there are abnormal and normal examples; ``attacked`` (bool ``[batch]``, default all) marks
    the examples the attack changed, the only ones that can be either."""
    start_logits = tf.stop_gradient(start_logits)
    before = tf.stop_gradient(per_example.cross_entropy_to(targets, start_logits))
    after = per_example.cross_entropy_to(targets, adv_logits)
    lowered = before > tf.stop_gradient(after)
    if attacked is None:
        attacked = tf.ones_like(lowered)
    abnormal = lowered & attacked
    normal = tf.logical_not(lowered) & attacked
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


def aaer_loss(clean_logits, adv_logits, targets, weight=REFERENCE_LAMBDA1,
              ce_weight=REFERENCE_LAMBDA2, variation_weight=REFERENCE_LAMBDA3, attacked=None):
    """AAER's loss; ``clean_logits`` are the training-mode logits of the attack's start point,
    ``attacked`` the examples the attack changed (default all)."""
    adversarial = classification_term(adv_logits, targets)
    regulariser = regulariser_share(clean_logits, adv_logits, targets, ce_weight,
                                    variation_weight, attacked)
    return ObjectiveTerms(adversarial + weight * regulariser, regulariser, adversarial)
