"""Training objectives of SPEC section 5: clean CE, sAT, Tradeoff (paper Eq. 8), sTRADES, and
their self-adaptive (SAT) forms; and the baselines of the paper's Table 6, one module each:
MART (``mart.py``), label smoothing (``label_smoothing.py``), NuAT (``nuat.py``), AdvLC
(``advlc.py``), AAER (``aaer.py``).

``OBJECTIVES`` maps "clean", "sparse_at" (sAT), "tradeoff" and "strades" to the functions below
(and the baselines' names to theirs),
the one vocabulary of objectives that training (``training/methods.py`` names one per method) and
the analysis (``--loss``) read. Self-adaptive training is not a separate objective but the
soft-target form of each.

Every objective takes ``(clean_logits, adv_logits, targets)`` (those in ``RAMPED`` also a
``ramp_fraction`` of their regulariser's weight, from the epoch; those in
``TRAINS_ON_LAST_ITERATE`` get the attack's last iterate as ``adv_logits``' input, not its best
input) and returns ``ObjectiveTerms`` of this
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

import tensorflow as tf

from tf_fastls0.losses import aaer, advlc, label_smoothing, mart, nuat
from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term  # noqa: F401  (re-exported)


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
USES_CLEAN = {"clean": True, "sparse_at": False, "tradeoff": True, "strades": True,
              "mart": True, "label_smoothing": False, "nuat": True, "advlc": True,
              "aaer": True}
USES_ADVERSARIAL = {"clean": False, "sparse_at": True, "tradeoff": True, "strades": True,
                    "mart": True, "label_smoothing": True, "nuat": True, "advlc": True,
                    "aaer": True}

OBJECTIVES = {
    "clean": clean_loss,
    "sparse_at": sparse_at_loss,
    "tradeoff": tradeoff_loss,
    "strades": trades_loss,
    "mart": mart.mart_loss,
    "label_smoothing": label_smoothing.label_smoothing_loss,
    "nuat": nuat.nuat_loss,
    "advlc": advlc.advlc_loss,
    "aaer": aaer.aaer_loss,
}

# Each objective's coefficients: its parameter -> the TrainConfig field that sets it.
COEFFICIENT_SETTINGS = {
    "tradeoff": {"alpha": "tradeoff_alpha"},
    "strades": {"beta": "trades_beta"},
    "mart": {"beta": "mart_beta"},
    "label_smoothing": {"smoothing": "label_smoothing"},
    "nuat": {"weight": "nuat_lambda"},
    "advlc": {"weight": "advlc_lambda", "top": "advlc_top"},
    "aaer": {"weight": "aaer_lambda1", "ce_weight": "aaer_lambda2",
             "variation_weight": "aaer_lambda3"},
}

# Objectives whose regulariser weight ramps up over the epochs: they take ``ramp_fraction``.
RAMPED = {"nuat": nuat.ramp}

# Objectives trained on the attack's last iterate itself rather than its best input (the
# reference's one-step attack keeps no best): AAER's abnormal examples are those the step made
# easier, which best-tracking would hide.
TRAINS_ON_LAST_ITERATE = ("aaer",)


def from_settings(name, settings):
    """The objective ``name`` with every coefficient read from ``settings`` (a TrainConfig)."""
    return functools.partial(OBJECTIVES[name], **{
        parameter: getattr(settings, field)
        for parameter, field in COEFFICIENT_SETTINGS.get(name, {}).items()})
