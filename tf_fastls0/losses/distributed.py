"""Global-batch reductions that are exact under ``tf.distribute`` (SPEC section 5, last line).

In a replica context each replica returns its *share* of a batch quantity: the shares summed over
replicas equal the global-batch value, and so do the gradients of the shares, which is what the
optimizer's all-reduce (a sum) expects. Normalisers (the global example count, sum_i w_i for SAT)
are all-reduced and carry no gradient. Outside any strategy, or with one replica, every function
here is the plain batch reduction.

Unlike ``tf.nn.compute_average_loss`` the global count is all-reduced rather than assumed to be
``local_batch * num_replicas``, so unevenly split batches (a data set's last batch) stay exact.

To log a share as the global value, average ``share * num_replicas_in_sync()`` over replicas
(e.g. a Keras ``Mean`` metric in ``train_step``); that mean equals the sum of the shares.
"""

import tensorflow as tf


def num_replicas_in_sync():
    """Replicas that share each global batch (1 outside a strategy or in cross-replica context)."""
    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def global_sum(x):
    """``x`` summed over all replicas, with no gradient (meant for normalisers).

    In cross-replica context (``get_replica_context()`` is None) ``x`` is already global.
    """
    x = tf.stop_gradient(x)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x
    return context.all_reduce(tf.distribute.ReduceOp.SUM, x)


def global_weighted_mean(values, weights):
    """This replica's share of ``sum_i w_i v_i / sum_i w_i`` over the global batch.

    Args:
      values: float tensor ``[batch]``; gradients flow through it.
      weights: float tensor ``[batch]``; treated as constants.
    """
    weights = tf.stop_gradient(tf.cast(weights, values.dtype))
    total_weight = global_sum(tf.reduce_sum(weights))
    return tf.math.divide_no_nan(tf.reduce_sum(weights * values), total_weight)


def global_batch_mean(values):
    """This replica's share of the mean of ``values`` (``[batch]``) over the global batch."""
    return global_weighted_mean(values, tf.ones_like(values))


def global_count(values):
    """The number of rows of ``values`` over the global batch (float32, no gradient)."""
    return global_sum(tf.cast(tf.shape(values)[0], tf.float32))


def global_concat(x):
    """``x`` of every replica concatenated along axis 0, with no gradient (for thresholds that
    depend on the whole global batch, such as a top-k over it)."""
    x = tf.stop_gradient(x)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x
    return context.all_gather(x, axis=0)
