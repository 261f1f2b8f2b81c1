"""The global gradient, exact on one replica or many."""

import tensorflow as tf


def global_gradients(gradients, norm_wanted=True):
    """Global-batch gradients and their norm, pre-divided so the optimizer's own all-reduce sum
    restores them exactly.

    Inside ``strategy.run`` each replica holds only its share and the optimizer sums the shares.
    Summing here first costs one extra all-reduce with several replicas; it buys the exact global
    gradient norm, which the catastrophic-overfitting analysis relies on.

    ``norm_wanted``: True, or a boolean tensor (the steps that log it,
    ``sparse_adversarial_model.py``); where it is false the norm is not computed (a squared sum
    per variable: many small kernels without XLA) and 0 stands in for it. No collective runs
    inside the condition.
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        return gradients, _norm(gradients, norm_wanted)
    summed = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    return [g / replicas for g in summed], _norm(summed, norm_wanted)


def _norm(gradients, wanted):
    if wanted is True:
        return tf.linalg.global_norm(gradients)
    return tf.cond(wanted, lambda: tf.linalg.global_norm(gradients), lambda: tf.constant(0.0))
