"""Training objectives of SPEC section 5: clean CE, sAT, Tradeoff (paper Eq. 8), sTRADES, and
their self-adaptive (SAT) forms; and the baselines of the paper's Table 6, one module each:
MART (``mart.py``), label smoothing (``label_smoothing.py``), NuAT (``nuat.py``), AdvLC
(``advlc.py``), AAER (``aaer.py``).

``OBJECTIVES`` maps each name to its record (``records.Objective``: its function, what it
reads, its coefficient settings with their defaults, its display and log names): "clean",
"sparse_at" (sAT), "tradeoff" and "strades" defined below, the baselines in their own modules.
It is the one vocabulary of objectives that training (``training/methods.py`` names one per
method; ``TrainConfig`` takes each record's settings as a field of the record's name) and the
analysis (``--loss``) read. Self-adaptive training is not a separate objective but the
soft-target form of each.

Every objective takes ``(clean_logits, adv_logits, targets, **coefficients)`` (one with a
``ramp`` also a ``ramp_fraction`` of its regulariser's weight, from the epoch; one with
``last_iterate`` gets the attack's last iterate as ``adv_logits``' input, not its best input)
and returns ``ObjectiveTerms`` of this
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

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import aaer, advlc, label_smoothing, mart, nuat
from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term  # noqa: F401  (re-exported)
from tf_fastls0.utils.settings import setting


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


@dataclasses.dataclass(frozen=True)
class TradeoffSettings:
    alpha: float = setting(0.75, "Tradeoff weight a of the adversarial CE (paper Eq. 8).",
                           lower=0.0, upper=1.0)


@dataclasses.dataclass(frozen=True)
class StradesSettings:
    beta: float = setting(6.0, "sTRADES KL weight beta.", lower=0.0, upper=1e4,
                           old_names=("trades_beta",))


CLEAN = Objective("clean", clean_loss, "clean CE", reads_clean=True, reads_adversarial=False)
SPARSE_AT = Objective("sparse_at", sparse_at_loss, "sAT", reads_clean=False)
TRADEOFF = Objective("tradeoff", tradeoff_loss, "Tradeoff", reads_clean=True,
                     settings=TradeoffSettings)
STRADES = Objective("strades", trades_loss, "sTRADES", reads_clean=True, settings=StradesSettings,
                    reads=("trades_mode",))  # its attack's loss (recipe._attack_loss)

# The one vocabulary of objectives: the method table (``training/methods.py``) names one per
# method, the analysis' ``--loss`` takes these names, and ``TrainConfig`` has one field of
# settings per objective that has coefficients. A new objective is a record in its own module
# and one line here.
OBJECTIVES = {record.name: record for record in (
    CLEAN, SPARSE_AT, TRADEOFF, STRADES,
    mart.OBJECTIVE, label_smoothing.OBJECTIVE, nuat.OBJECTIVE, advlc.OBJECTIVE, aaer.OBJECTIVE,
)}


def from_settings(name, settings):
    """The objective ``name`` with every coefficient read from ``settings`` (a TrainConfig)."""
    record = OBJECTIVES[name]
    return record.bound(getattr(settings, name) if record.settings is not None else None)
