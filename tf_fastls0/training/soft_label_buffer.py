"""Self-adaptive soft labels' buffer: one row of soft targets per training example, in a
non-trainable variable.

Rows start as the one-hot labels and, from ``start_epoch`` on, move toward the model's clean
prediction each time their example is seen (SPEC §5, self-adaptive training). The variable is
saved with every checkpoint. Under tf.distribute every replica holds a copy, written with
the rows of all replicas (``replicated_rows.py``).

When the labels are not known up front (a user's ``tf.data`` stream given to
``SparseAdversarialModel.fit``), the buffer is made with ``num_examples`` rows of zeros, and
``fill_unset`` writes an example's one-hot label the first time the example is seen, before the
step reads its row: the rows the loss sees are the same as with the labels given up front.

As a step add-on (``ADD_ON``): Fast-LS-l0 has it, ``--soft_labels=self_adaptive`` adds it to any
adversarial method. Its rows are the objective's targets, so the step itself reads the buffer
(``recipe.py``: the rows before the attack, moved inside the loss, stored after the update).
"""

import tensorflow as tf

from tf_fastls0.losses import soft_targets
from tf_fastls0.losses.records import AddOn
from tf_fastls0.training import replicated_rows


class SoftLabelBuffer:
    def __init__(self, num_classes, momentum, start_epoch, train_labels=None, num_examples=None):
        self.momentum = momentum
        self.start_epoch = start_epoch
        self.num_classes = num_classes
        self.labels_known = train_labels is not None
        initial = (soft_targets.one_hot_targets(train_labels, num_classes) if self.labels_known
                   else tf.zeros([num_examples, num_classes]))
        self.rows = tf.Variable(initial, trainable=False, name="soft_labels",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    @property
    def num_examples(self):
        return int(self.rows.shape[0])

    def lookup(self, indices):
        return tf.gather(self.rows, indices)

    def fill_unset(self, indices, labels):
        """Rows never written yet (all zeros) become their examples' one-hot labels."""
        rows = self.lookup(indices)
        unset = tf.reduce_sum(rows, axis=-1, keepdims=True) == 0.0
        filled = tf.where(unset, soft_targets.one_hot_targets(labels, self.num_classes), rows)
        replicated_rows.store_rows(self.rows, indices, filled)

    def moved(self, rows, clean_logits, epoch):
        active = soft_targets.targets_active(epoch, self.start_epoch)
        return soft_targets.updated_targets(rows, clean_logits, self.momentum, active)

    def store(self, indices, rows):
        replicated_rows.store_rows(self.rows, indices, rows)


def make_buffer(config, facts):
    """The record's ``state`` (``facts``: ``recipe.DataFacts``)."""
    return SoftLabelBuffer(facts.num_classes, config.soft_label_momentum,
                           config.soft_label_start_epoch, facts.train_labels, facts.num_examples)


ADD_ON = AddOn("soft_labels", "self-adaptive soft labels", switch="self_adaptive",
               reads=("soft_label_start_epoch", "soft_label_momentum",
                      "soft_label_attack_target"),
               state=make_buffer, checkpoint_name="soft_labels")
