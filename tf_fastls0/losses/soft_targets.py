"""Self-adaptive training (SAT, Huang et al. NeurIPS 2020) soft-target rule, SPEC section 5.

Pure functions over rows of the soft-target buffer T (``[batch, classes]`` float, one row per
training example); the trainer owns the buffer variable and scatters the new rows back.
"""

import tensorflow as tf

DEFAULT_MOMENTUM = 0.9


def one_hot_targets(labels, num_classes):
    """The buffer's initial rows: one-hot labels, float32 ``[batch, num_classes]``."""
    return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)


def targets_active(epoch, start_epoch):
    """Whether SAT updates targets in 0-based ``epoch`` (``epoch >= start_epoch``); tensor-safe."""
    return tf.greater_equal(epoch, start_epoch)


def updated_targets(rows, clean_logits, momentum=DEFAULT_MOMENTUM, active=True):
    """``t <- m * t + (1 - m) * softmax(f(x))`` where ``active``, else the rows unchanged.

    Args:
      rows: current soft targets ``[batch, classes]`` (one-hot before E_s).
      clean_logits: this step's clean logits ``[batch, classes]``; no gradient flows through them.
      momentum: m, 0.9 in the paper.
      active: bool (Python or scalar tensor), ``targets_active(epoch, start_epoch)``; before E_s
        the rows stay one-hot, so the SAT loss equals plain cross-entropy.
    Returns:
      the new rows, float32 ``[batch, classes]``.
    """
    rows = tf.cast(rows, tf.float32)
    probabilities = tf.nn.softmax(tf.cast(tf.stop_gradient(clean_logits), tf.float32), axis=-1)
    moved = momentum * rows + (1.0 - momentum) * probabilities
    return tf.where(tf.cast(active, tf.bool), moved, rows)


def target_weights(rows):
    """SAT's per-example weights ``w_i = max_j t_ij``, ``[batch]``, as constants."""
    return tf.stop_gradient(tf.reduce_max(rows, axis=-1))
