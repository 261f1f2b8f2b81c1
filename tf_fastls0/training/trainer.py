"""The training model: a ``keras.Model`` whose ``train_step`` runs a recipe's attack and loss.

It wraps the classifier (``network``) so that what is exported is the plain classifier, and the
training machinery (recipe, trackers, soft-label buffer) stays out of the SavedModel.
"""

import keras
import tensorflow as tf

from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.gradients import global_gradients
from tf_fastls0.training.soft_label_buffer import SoftLabelBuffer


class AdversarialTrainer(keras.Model):
    """``network`` trained as ``recipe`` says; ``buffer`` holds the self-adaptive soft labels
    (a ``SoftLabelBuffer``, made here when the recipe uses them, so it lives in the strategy's
    scope)."""

    def __init__(self, network, recipe, steps_per_epoch, soft_labels=None, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.recipe = recipe
        self.steps_per_epoch = steps_per_epoch
        self.buffer = SoftLabelBuffer(**soft_labels) if recipe.self_adaptive else None
        self.means = {name: keras.metrics.Mean(name=name)
                      for name in ("loss",) + recipe.logged_means + recipe.logged_regularisers}
        self.accuracies = {name: keras.metrics.SparseCategoricalAccuracy(name=name)
                           for name in ("accuracy",) + recipe.logged_accuracies}

    def call(self, images, training=False):
        return self.network(images, training=training)

    @property
    def metrics(self):
        return list(self.means.values()) + list(self.accuracies.values())

    def checkpoint_items(self):
        """What a checkpoint holds besides the network and the optimizer."""
        return {"soft_labels": self.buffer.rows} if self.buffer is not None else {}

    def track_accuracy(self, name, labels, logits):
        self.accuracies[name].update_state(labels, logits)

    def train_step(self, data):
        images, labels, indices = data
        step = tf.convert_to_tensor(self.optimizer.iterations)
        batch = recipe_lib.prepare(self.recipe, self.network, self.buffer, images, labels,
                                   indices, step, self.steps_per_epoch)
        with tf.GradientTape() as tape:
            terms, new_rows = recipe_lib.loss(self.recipe, self.network, self.buffer, batch,
                                              self.track_accuracy)
        gradients = tape.gradient(terms.total, self.network.trainable_variables)
        gradients, gradient_norm = global_gradients(gradients)
        self.optimizer.apply(gradients, self.network.trainable_variables)
        if new_rows is not None:
            self.buffer.store(indices, new_rows)
        for name, tracker in self.means.items():
            tracker.update_state(terms[name])
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        logs["gradient_norm"] = gradient_norm
        logs["learning_rate"] = self.optimizer.learning_rate
        return logs

    def test_step(self, data):
        images, labels, _ = data
        logits = self.network(images, training=False)
        per_example = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        self.means["loss"].update_state(per_example)
        self.accuracies["accuracy"].update_state(labels, logits)
        return {"loss": self.means["loss"].result(), "accuracy": self.accuracies["accuracy"].result()}
