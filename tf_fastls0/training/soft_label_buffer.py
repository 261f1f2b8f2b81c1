"""The SAT buffer: one row of soft targets per training example, in a non-trainable variable.

Rows start as the one-hot labels and, from ``start_epoch`` on, move toward the model's clean
prediction each time their example is seen (SPEC §5, self-adaptive training). The variable is
saved with every checkpoint.

Under ``MirroredStrategy`` and ``MultiWorkerMirroredStrategy`` every replica holds a copy. A
replica's own scatter would update only its copy, so ``store`` gathers the rows of all replicas
first, then writes the full update into every copy through ``strategy.extended.update`` (each
device applies its own, identical, gathered values: no reduction is needed or wanted).
"""

import tensorflow as tf

from tf_fastls0.losses import soft_targets


class SoftLabelBuffer:
    def __init__(self, train_labels, num_classes, momentum, start_epoch):
        self.momentum = momentum
        self.start_epoch = start_epoch
        self.rows = tf.Variable(soft_targets.one_hot_targets(train_labels, num_classes),
                                trainable=False, name="sat_soft_labels",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def lookup(self, indices):
        return tf.gather(self.rows, indices)

    def moved(self, rows, clean_logits, epoch):
        active = soft_targets.targets_active(epoch, self.start_epoch)
        return soft_targets.updated_targets(rows, clean_logits, self.momentum, active)

    def store(self, indices, rows):
        context = tf.distribute.get_replica_context()
        rows = tf.stop_gradient(rows)
        if context.num_replicas_in_sync > 1:
            # One float32 gather of [index, row...]: under MultiWorkerMirroredStrategy a separate
            # gather of the int64 indices failed ("destinations can not be empty"). Indices stay
            # exact in float32 below 2**24 examples.
            packed = tf.concat([tf.cast(indices, tf.float32)[:, None], rows], axis=1)
            packed = context.all_gather(packed, axis=0)
            indices, rows = tf.cast(packed[:, 0], tf.int64), packed[:, 1:]
        context.merge_call(self._write_everywhere, args=(indices, rows))

    def _write_everywhere(self, strategy, indices, rows):
        scatter = lambda variable, i, r: variable.scatter_update(tf.IndexedSlices(r, i))  # noqa: E731
        return strategy.extended.update(self.rows, scatter, args=(indices, rows), group=True)
