"""The global gradient, exact on one replica or many."""

import tensorflow as tf


def global_gradients(gradients):
    """Global-batch gradients and their norm, pre-divided so the optimizer's own all-reduce sum
    restores them exactly.

    Inside ``strategy.run`` each replica holds only its share and the optimizer sums the shares.
    Summing here first costs one extra all-reduce with several replicas; it buys the exact global
    gradient norm, which the catastrophic-overfitting analysis relies on.
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        return gradients, tf.linalg.global_norm(gradients)
    summed = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    return [g / replicas for g in summed], tf.linalg.global_norm(summed)
