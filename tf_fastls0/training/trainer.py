"""The training model: a ``keras.Model`` whose ``train_step`` runs a method's attack and loss.

It wraps the classifier (``network``) so that what is exported is the plain classifier, and the
training machinery (method, trackers, SAT buffer) stays out of the SavedModel.
"""

import keras
import tensorflow as tf

from tf_fastls0.training.gradients import global_gradients


class AdversarialTrainer(keras.Model):
    def __init__(self, network, method, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.method = method
        self.seed = seed
        self.means = {name: keras.metrics.Mean(name=name) for name in ("loss",) + method.logged_means}
        self.accuracies = {name: keras.metrics.SparseCategoricalAccuracy(name=name)
                           for name in ("accuracy",) + method.logged_accuracies}
        method.build(self)

    def call(self, images, training=False):
        return self.network(images, training=training)

    @property
    def metrics(self):
        return list(self.means.values()) + list(self.accuracies.values())

    def track_accuracy(self, name, labels, logits):
        self.accuracies[name].update_state(labels, logits)

    def train_step(self, data):
        images, labels, indices = data
        batch = self.method.prepare(self, images, labels, indices)
        with tf.GradientTape() as tape:
            terms = self.method.loss(self, batch)
        gradients = tape.gradient(terms.total, self.network.trainable_variables)
        gradients, gradient_norm = global_gradients(gradients)
        self.optimizer.apply(gradients, self.network.trainable_variables)
        self.method.after_update(self, batch, terms)
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
