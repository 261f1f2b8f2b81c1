"""What every objective returns, and the classification term they share (SPEC section 5).

Kept apart from ``objectives.py`` so that the objectives of other papers, one module each
(``mart.py``, ``nuat.py``, ...), build on the same pieces without importing the table.
"""

from typing import NamedTuple, Optional

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import per_example
from tf_fastls0.losses import soft_targets


class ObjectiveTerms(NamedTuple):
    """Replica shares of an objective and of its two terms (coefficients not applied to the terms).

    ``total`` is what to differentiate; ``clean`` is the clean classification term (0 for sAT);
    ``adversarial`` is the adversarial CE (sAT, Tradeoff) or the batch-mean KL (sTRADES). The
    Table 6 baselines put other terms in the two places; their records' ``log_names``
    (``records.Objective``) name them in the logs (MART: ``misclassification_kl``,
    ``boosted_ce``). ``diagnostics``: values the objective also logs, by the names its record's
    ``diagnostics`` gives (N-AAER's ``abnormal_share``), each the same on every replica.
    """
    total: tf.Tensor
    clean: tf.Tensor
    adversarial: tf.Tensor
    diagnostics: Optional[dict] = None


def classification_term(logits, targets):
    """Share of the global-batch CE to labels ``[batch]`` or SAT-weighted CE to rows ``[batch, K]``."""
    targets = tf.convert_to_tensor(targets)
    if targets.shape.rank == 1:
        return distributed.global_batch_mean(per_example.cross_entropy(targets, logits))
    return distributed.global_weighted_mean(per_example.soft_cross_entropy(targets, logits),
                                            soft_targets.target_weights(targets))
