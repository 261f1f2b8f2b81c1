"""Rows of a per-example training buffer (one row per training example, in a non-trainable
float32 variable made with ``ONLY_FIRST_REPLICA`` aggregation), written the same on every replica.

Under ``MirroredStrategy`` and ``MultiWorkerMirroredStrategy`` every replica holds a copy. A
replica's own scatter would update only its copy, so ``store_rows`` gathers the rows of all
replicas first, then writes the full update into every copy through ``strategy.extended.update``
(each device applies its own, identical, gathered values: no reduction is needed or wanted).
"""

import tensorflow as tf


def store_rows(variable, indices, rows):
    """``variable[indices] = rows`` on every replica, with the rows of all replicas."""
    context = tf.distribute.get_replica_context()
    rows = tf.stop_gradient(tf.cast(rows, tf.float32))
    if context.num_replicas_in_sync > 1:
        # One float32 gather of [index, row...]: under MultiWorkerMirroredStrategy a separate
        # gather of the int64 indices failed ("destinations can not be empty"). Indices stay
        # exact in float32 below 2**24 examples.
        row_shape = tf.shape(rows)[1:]
        flat = tf.reshape(rows, [tf.shape(rows)[0], -1])
        packed = tf.concat([tf.cast(indices, tf.float32)[:, None], flat], axis=1)
        packed = context.all_gather(packed, axis=0)
        indices = tf.cast(packed[:, 0], tf.int64)
        rows = tf.reshape(packed[:, 1:], tf.concat([[-1], row_shape], 0))
    context.merge_call(_write_everywhere, args=(variable, indices, rows))


def _write_everywhere(strategy, variable, indices, rows):
    scatter = lambda v, i, r: v.scatter_update(tf.IndexedSlices(r, i))  # noqa: E731
    return strategy.extended.update(variable, scatter, args=(indices, rows), group=True)
