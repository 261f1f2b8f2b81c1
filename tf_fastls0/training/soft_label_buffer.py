"""The SAT buffer: one row of soft targets per training example, in a non-trainable variable.

Rows start as the one-hot labels and, from ``start_epoch`` on, move toward the model's clean
prediction each time their example is seen (SPEC §5, self-adaptive training). The variable is
saved with every checkpoint. Under tf.distribute every replica holds a copy, written with
the rows of all replicas (``replicated_rows.py``).
"""

import tensorflow as tf

from tf_fastls0.losses import soft_targets
from tf_fastls0.training import replicated_rows


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
        replicated_rows.store_rows(self.rows, indices, rows)
