"""Training methods: how a batch becomes the inputs of the loss, and the loss itself.

``AdversarialTrainer.train_step`` calls a method's ``prepare`` (outside the gradient tape: noise,
the attack, anything that needs no gradient to the weights), then ``loss`` (inside the tape), then
``after_update`` (state such as the SAT buffer). A method names the means and accuracies it logs.
Adding a method means adding a class here and a name in ``METHODS``; data and models stay as they are.
"""

import tensorflow as tf


class LossTerms(dict):
    """``total``: this replica's share of the global-batch loss (what is differentiated);
    every other entry is a value to log, averaged over the epoch (``loss`` always present)."""

    @property
    def total(self):
        return self["total"]


class Standard:
    """Plain cross-entropy on clean images (no attack)."""

    name = "standard"
    logged_means = ()
    logged_accuracies = ()

    def __init__(self, config=None, num_train_examples=0, num_classes=0):
        self.config = config

    def build(self, trainer):
        pass

    def checkpoint_items(self):
        return {}

    def prepare(self, trainer, images, labels, indices):
        return {"images": images, "labels": labels, "indices": indices}

    def loss(self, trainer, batch):
        logits = trainer.network(batch["images"], training=True)
        per_example = tf.keras.losses.sparse_categorical_crossentropy(
            batch["labels"], logits, from_logits=True)
        trainer.track_accuracy("accuracy", batch["labels"], logits)
        return LossTerms(total=tf.nn.compute_average_loss(per_example),
                         loss=tf.reduce_mean(per_example))

    def after_update(self, trainer, batch, terms):
        pass


METHODS = {"standard": Standard}
