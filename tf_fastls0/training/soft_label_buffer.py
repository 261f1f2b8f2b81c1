"""The SAT buffer: one row of soft targets per training example, in a non-trainable variable.

Rows start as the one-hot labels and, from ``start_epoch`` on, move toward the model's clean
prediction each time their example is seen (SPEC §5, self-adaptive training). The variable is
saved with every checkpoint.

Under ``MirroredStrategy`` every replica holds a copy. A replica's own scatter would update only
its copy, so ``store`` gathers the rows of all replicas first and every replica applies the same
full update (the variable aggregates ONLY_FIRST_REPLICA, all copies being equal by construction).
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
        if context is not None and context.num_replicas_in_sync > 1:
            indices = context.all_gather(indices, axis=0)
            rows = context.all_gather(rows, axis=0)
        self.rows.scatter_update(tf.IndexedSlices(tf.stop_gradient(rows), indices))
