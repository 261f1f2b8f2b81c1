"""Per-example cross-entropies and KL divergence on logits; each returns a float tensor ``[batch]``.

These are the unreduced building blocks of SPEC section 5; batch reduction lives in
``distributed``. All take logits ``[batch, classes]`` (never probabilities).
"""

import tensorflow as tf


def cross_entropy(labels, logits):
    """CE to hard labels: ``-log softmax(logits)[y]``; ``labels`` int ``[batch]``."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)


def soft_cross_entropy(targets, logits):
    """CE to soft targets: ``-sum_j t_j log softmax(logits)_j``; ``targets`` float ``[batch, classes]``.

    No gradient flows into ``targets`` (SAT's soft targets are constants of the step).
    """
    targets = tf.stop_gradient(tf.cast(targets, logits.dtype))
    return -tf.reduce_sum(targets * tf.nn.log_softmax(logits, axis=-1), axis=-1)


def cross_entropy_to(targets, logits):
    """CE to hard labels ``[batch]`` or to soft rows ``[batch, classes]``, whichever ``targets`` is."""
    targets = tf.convert_to_tensor(targets)
    if targets.shape.rank == 1:
        return cross_entropy(targets, logits)
    return soft_cross_entropy(targets, logits)


def kl_divergence(p_logits, q_logits):
    """``KL(softmax p || softmax q) = sum_j P_j (log P_j - log Q_j)``, gradients through both sides.

    TRADES (and sTRADES, SPEC section 5) puts the clean prediction first; a caller that wants it
    held fixed (the sTRADES mode-F attack loss) wraps ``p_logits`` in ``tf.stop_gradient``.
    """
    log_p = tf.nn.log_softmax(p_logits, axis=-1)
    log_q = tf.nn.log_softmax(q_logits, axis=-1)
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)
