"""MART, misclassification-aware adversarial training (Wang et al., ICLR 2020), on sPGD examples.

Loss (paper Eq. 6; reference code YisenWang/MART, ``mart_loss`` in ``mart.py``), p = softmax:

    BCE(p(x'), y) + beta * KL(p(x) || p(x')) * (1 - p_y(x)),
    BCE(p(x'), y) = -log p_y(x') - log(1 - max_{k != y} p_k(x')),

averaged over the (global) batch; x' is the adversarial example, beta = 6 (the reference's default
for CIFAR-10). As in the reference, gradients flow through every term, the clean prediction in the
KL and in the weight 1 - p_y(x) included, and the reference's constants are kept: the second BCE
term is ``-log(1.0001 - p_k(x') + 1e-12)`` and the weight ``1.0000001 - p_y(x)``.

l0 adaptation (the Fast-LS-l0 paper's rule for every baseline): x' is made by the trainer's sPGD
(1 step, CE to the label) instead of MART's l-inf PGD, whose attack loss is also CE.

With self-adaptive soft labels (``+S&N``) the first BCE term is the SAT-weighted CE to the rows
(as every CE term of this package), and the label of the margin term and of the weight is each
row's arg-max (MART defines no soft-label form; this is our choice).
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class MartSettings:
    beta: float = setting(6.0, "MART: weight beta of the misclassification-weighted KL.",
                          lower=0.0, upper=1e4)


def hard_labels(targets):
    """Labels ``[batch]`` of int labels or of soft rows (their arg-max)."""
    targets = tf.convert_to_tensor(targets)
    if targets.shape.rank == 1:
        return tf.cast(targets, tf.int32)
    return tf.argmax(targets, axis=-1, output_type=tf.int32)


def largest_other_probability(probabilities, labels):
    """``max_{k != y} p_k`` per example."""
    is_label = tf.one_hot(labels, tf.shape(probabilities)[-1], on_value=True, off_value=False)
    return tf.reduce_max(tf.where(is_label, tf.zeros_like(probabilities), probabilities), axis=-1)


def mart_loss(clean_logits, adv_logits, targets, beta=MartSettings.beta):
    """MART's loss; ``clean`` = the weighted-KL term, ``adversarial`` = the BCE (shares),
    logged as ``misclassification_kl`` and ``boosted_ce``."""
    labels = hard_labels(targets)
    adv_probabilities = tf.nn.softmax(adv_logits, axis=-1)
    margin = -tf.math.log(1.0001 - largest_other_probability(adv_probabilities, labels) + 1e-12)
    boosted = classification_term(adv_logits, targets) + distributed.global_batch_mean(margin)
    clean_probabilities = tf.nn.softmax(clean_logits, axis=-1)
    true_probability = tf.gather(clean_probabilities, labels, batch_dims=1)
    weighted_kl = distributed.global_batch_mean(
        per_example.kl_divergence(clean_logits, adv_logits) * (1.0000001 - true_probability))
    return ObjectiveTerms(boosted + beta * weighted_kl, weighted_kl, boosted)


OBJECTIVE = Objective("mart", mart_loss, "MART", reads_clean=True, settings=MartSettings,
                      log_names=("misclassification_kl", "boosted_ce"))
