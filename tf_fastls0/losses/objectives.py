"""Training objectives of SPEC section 5: clean CE, sAT, Tradeoff (paper Eq. 8), sTRADES, and
their self-adaptive (SAT) forms.

``OBJECTIVES`` maps "clean", "sparse_at" (sAT), "tradeoff" and "strades" to the functions below,
the one vocabulary of objectives that training (``training/methods.py`` names one per method) and
the analysis (``--loss``) read. Self-adaptive training is not a separate objective but the
soft-target form of each.

Every objective takes ``(clean_logits, adv_logits, targets)`` and returns ``ObjectiveTerms`` of this
replica's shares (see ``distributed``: summed over replicas they give the global-batch values).
``targets`` picks the plain or the SAT form by its rank:

- int labels ``[batch]``: plain cross-entropy, averaged over the global batch;
- SAT soft-target rows ``[batch, classes]`` float: the SAT-weighted loss
  ``-(1 / sum_i w_i) sum_i w_i sum_j t_ij log softmax(f(x_i))_j``, ``w_i = max_j t_ij``, with
  both sums over the global batch.

Where the SPEC is silent (sAT + SAT, Tradeoff + SAT) every cross-entropy term, the adversarial
one included, takes this SAT-weighted form with the same t_i and w_i, as the clean term of Eq. 10
does. The KL term of sTRADES is always a plain global-batch mean (Eq. 10: beta / batch size).
"""

import functools
from typing import NamedTuple

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses import soft_targets


class ObjectiveTerms(NamedTuple):
    """Replica shares of an objective and of its two terms (coefficients not applied to the terms).

    ``total`` is what to differentiate; ``clean`` is the clean classification term (0 for sAT);
    ``adversarial`` is the adversarial CE (sAT, Tradeoff) or the batch-mean KL (sTRADES).
    """
    total: tf.Tensor
    clean: tf.Tensor
    adversarial: tf.Tensor


def classification_term(logits, targets):
    """Share of the global-batch CE to labels ``[batch]`` or SAT-weighted CE to rows ``[batch, K]``."""
    targets = tf.convert_to_tensor(targets)
    if targets.shape.rank == 1:
        return distributed.global_batch_mean(per_example.cross_entropy(targets, logits))
    return distributed.global_weighted_mean(per_example.soft_cross_entropy(targets, logits),
                                            soft_targets.target_weights(targets))


def clean_loss(clean_logits, adv_logits, targets):
    """Standard training: ``CE(f(x), y)``; ``adv_logits`` is unused (may be None)."""
    del adv_logits
    clean = classification_term(clean_logits, targets)
    return ObjectiveTerms(clean, clean, tf.zeros_like(clean))


def sparse_at_loss(clean_logits, adv_logits, targets):
    """sAT: ``CE(f(x_adv), y)``; ``clean_logits`` is unused (may be None)."""
    del clean_logits
    adversarial = classification_term(adv_logits, targets)
    return ObjectiveTerms(adversarial, tf.zeros_like(adversarial), adversarial)


def tradeoff_loss(clean_logits, adv_logits, targets, alpha):
    """Tradeoff, paper Eq. 8: ``(1 - a) CE(f(x), y) + a CE(f(x_adv), y)`` (paper: a = 0.75)."""
    clean = classification_term(clean_logits, targets)
    adversarial = classification_term(adv_logits, targets)
    return ObjectiveTerms((1.0 - alpha) * clean + alpha * adversarial, clean, adversarial)


def trades_loss(clean_logits, adv_logits, targets, beta):
    """sTRADES: ``CE(f(x), y) + beta * mean_i KL(softmax f(x_i) || softmax f(x_adv_i))`` (paper:
    beta = 6).

    With SAT rows as ``targets`` this is paper Eq. 10. As in TRADES, gradients flow through both
    arguments of the KL, the clean prediction included.
    """
    clean = classification_term(clean_logits, targets)
    adversarial = distributed.global_batch_mean(per_example.kl_divergence(clean_logits, adv_logits))
    return ObjectiveTerms(clean + beta * adversarial, clean, adversarial)


# What each objective reads besides the labels: the clean logits, the adversarial logits.
USES_CLEAN = {"clean": True, "sparse_at": False, "tradeoff": True, "strades": True}
USES_ADVERSARIAL = {"clean": False, "sparse_at": True, "tradeoff": True, "strades": True}

OBJECTIVES = {
    "clean": clean_loss,
    "sparse_at": sparse_at_loss,
    "tradeoff": tradeoff_loss,
    "strades": trades_loss,
}


def with_coefficients(name, tradeoff_alpha, trades_beta):
    """The objective ``name`` with its coefficient bound (the others take none):
    ``(clean_logits, adv_logits, targets) -> ObjectiveTerms``."""
    coefficients = {"tradeoff": {"alpha": tradeoff_alpha}, "strades": {"beta": trades_beta}}
    return functools.partial(OBJECTIVES[name], **coefficients.get(name, {}))
