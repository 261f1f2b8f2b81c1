"""AdvLC, adversarial training with logit-variation regularisation (Li & Spratling, Pattern
Recognition 2023, "Understanding and combating robust overfitting via input loss landscape
analysis and regularization"), on sPGD examples.

Loss (reference code TreeLLi/Combating-RO-AdvLC, ``src/utils/train.py``, ``update``):

    CE(f(x'), y) + lambda * (sum of the largest fraction q of |f(x) - f(x')|) / n,

f the logits, |.| element-wise over the n x K logit difference of the whole (global) batch, x the
(noisy) clean image in training mode and x' its adversarial example; q = 1 gives the l1 norm.
Reference defaults: q = 0.1 (``--reg_top``), lambda = 1 (``--reg_lam``), no warm-up
(``--reg_warmup`` off); ours: ``--advlc_top``, ``--advlc_weight``. The paper's tuned lambda for
CIFAR-10 could not be pinned down here; we keep the reference's default.

l0 adaptation: x' comes from the trainer's sPGD (1 step, CE to the label) instead of PGD
started from uniform noise. With self-adaptive soft labels the CE is SAT-weighted to the rows.

Under tf.distribute the top fraction is of the global batch: the absolute differences are
gathered (no gradient) to find the global threshold, and each replica sums its own entries at or
above it (ties at the threshold, of measure zero for float logits, are all kept).
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class AdvlcSettings:
    weight: float = setting(1.0, "AdvLC: weight of the logit-variation regulariser.", lower=0.0,
                            upper=1e4, old_names=("advlc_lambda",))
    top: float = setting(0.1, "AdvLC: fraction of the largest |logit differences| of the batch "
                         "that are regularised (1 = all: the l1 norm).", lower=0.0, upper=1.0)


def top_fraction_sum_share(values, fraction):
    """This replica's share of the sum of the largest ``int(N * fraction)`` entries of the
    global-batch ``values`` (N entries in all)."""
    values = tf.reshape(values, [-1])
    everything = distributed.global_concat(values)
    count = tf.cast(tf.cast(tf.size(everything), tf.float32) * fraction, tf.int32)
    largest = tf.math.top_k(everything, k=tf.maximum(count, 1)).values
    threshold = tf.where(count > 0, largest[-1], tf.constant(float("inf"), values.dtype))
    return tf.reduce_sum(tf.where(values >= threshold, values, tf.zeros_like(values)))


def advlc_loss(clean_logits, adv_logits, targets, weight=AdvlcSettings.weight,
               top=AdvlcSettings.top):
    """AdvLC's loss; ``clean`` is the logit-variation term (its share), ``adversarial`` the CE,
    logged as ``logit_variation`` and ``adversarial_ce``."""
    adversarial = classification_term(adv_logits, targets)
    variation = top_fraction_sum_share(tf.abs(clean_logits - adv_logits), top) / \
        distributed.global_count(clean_logits)
    return ObjectiveTerms(adversarial + weight * variation, variation, adversarial)


OBJECTIVE = Objective("advlc", advlc_loss, "AdvLC", reads_clean=True, settings=AdvlcSettings,
                      log_names=("logit_variation", "adversarial_ce"))
