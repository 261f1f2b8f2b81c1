"""The training model: a ``keras.Model`` whose ``train_step`` runs a recipe's attack and loss.

It wraps the classifier (``network``) so that what is exported is the plain classifier, and the
training machinery (recipe, trackers, soft-label buffer) stays out of the SavedModel. Its public
face is ``SparseAdversarialModel`` (``sparse_adversarial_model.py``): the settings of a method as
keywords, any ``(x, y)`` data; the command builds the same class from its ``TrainConfig``.

A batch is ``(images, labels, example_index)`` (the project's pipeline, or a user's indexed
data), ``((images, example_index), labels)`` (numpy arrays given to ``fit``: the index travels
inside ``x`` so that Keras' shuffle keeps it with its image), or ``(images, labels)`` for
``evaluate``.
"""

import keras
import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.training import awp
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.atta_buffer import PerturbationBuffer
from tf_fastls0.training.gradients import global_gradients
from tf_fastls0.training.soft_label_buffer import SoftLabelBuffer


class AdversarialTrainer(keras.Model):
    """``network`` trained as ``recipe`` says; ``buffer`` holds the self-adaptive soft labels
    (a ``SoftLabelBuffer``, made here when the recipe uses them, so it lives in the strategy's
    scope)."""

    def __init__(self, network, recipe, steps_per_epoch, soft_labels=None, carried=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.recipe = recipe
        self.steps_per_epoch = None
        self.buffer = self.carried = None
        if steps_per_epoch is not None:
            self.set_up(recipe, steps_per_epoch, soft_labels, carried)
        self._log_every_steps = 1
        with self.distribute_strategy.scope():
            # The gradient norm of the latest step that computed it (see ``log_every_steps``).
            self.latest_gradient_norm = keras.Variable(
                0.0, trainable=False, name="latest_gradient_norm",
                aggregation="only_first_replica")
        self.means = {name: keras.metrics.Mean(name=name)
                      for name in ("loss",) + recipe.logged_means + recipe.logged_regularisers}
        self.accuracies = {name: keras.metrics.SparseCategoricalAccuracy(name=name)
                           for name in ("accuracy",) + recipe.logged_accuracies}

    def set_up(self, recipe, steps_per_epoch, soft_labels=None, carried=None):
        """What a step needs beyond the network: the recipe, the steps per epoch (a step's epoch
        is its number // this) and the per-example buffers, made in the model's strategy scope.
        Without ``steps_per_epoch`` at construction, called before the first ``fit``."""
        self.recipe = recipe
        self.steps_per_epoch = steps_per_epoch
        with self.distribute_strategy.scope():
            self.buffer = SoftLabelBuffer(**soft_labels) if recipe.self_adaptive else None
            self.carried = (PerturbationBuffer(**carried) if recipe.carried_perturbation
                            else None)

    def call(self, images, training=False):
        if isinstance(images, (tuple, list)):  # (images, example_index): numpy data in fit
            images = images[0]
        return self.network(images, training=training)

    @property
    def log_every_steps(self):
        """The steps whose logs are read: those whose number (counted after the step) is a
        multiple of this, and each epoch's last. Only they compute the exact global gradient
        norm; the other steps log the latest computed one. 1 (the default) computes it every
        step; ``callbacks.StepSummaries`` sets its own ``every`` when training begins."""
        return self._log_every_steps

    @log_every_steps.setter
    def log_every_steps(self, every):
        every = max(1, int(every))
        if every != self._log_every_steps and getattr(self, "train_function", None) is not None:
            self.make_train_function(force=True)  # the step reads it when it is traced
        self._log_every_steps = every

    @property
    def metrics(self):
        return list(self.means.values()) + list(self.accuracies.values())

    def checkpoint_items(self):
        """What a checkpoint holds besides the network and the optimizer."""
        items = {"soft_labels": self.buffer.rows} if self.buffer is not None else {}
        if self.carried is not None:
            items["atta_perturbations"] = self.carried.rows
        return items

    def track_accuracy(self, name, labels, logits):
        self.accuracies[name].update_state(labels, logits)

    def train_step(self, data):
        images, labels, indices = unpack(data)
        if indices is None:
            raise ValueError("a training batch needs its example indices: (images, labels, "
                             "example_index)")
        if self.buffer is not None and not self.buffer.labels_known:
            self.buffer.fill_unset(indices, labels)
        step = tf.convert_to_tensor(self.optimizer.iterations)
        batch = recipe_lib.started(self.recipe, images, labels, indices, step,
                                   self.steps_per_epoch)
        weight_perturbation = self.recipe.weight_perturbation  # N-LAP's, before the attack
        if weight_perturbation is not None:
            weight_perturbation.perturb(self.network, batch, self.optimizer)
        batch = recipe_lib.attacked(self.recipe, self.network, self.buffer, batch, self.carried)
        norm_wanted = self._logs_this_step(step)
        if self.recipe.awp is not None:
            terms, new_rows, gradients, gradient_norm = self._awp_gradients(batch, norm_wanted)
        else:
            with tf.GradientTape() as tape:
                terms, new_rows = recipe_lib.loss(self.recipe, self.network, self.buffer, batch,
                                                  self.track_accuracy)
                scaled = self.optimizer.scale_loss(terms.total)  # float16's loss scale, if any
            gradients = tape.gradient(scaled, self.network.trainable_variables)
            gradients, gradient_norm = global_gradients(gradients, norm_wanted)
        gradient_norm = self._latest(norm_wanted, self._unscaled(gradient_norm))
        self.optimizer.apply(gradients, self.network.trainable_variables)
        if weight_perturbation is not None:
            weight_perturbation.restore(self.network)
        if new_rows is not None:
            self.buffer.store(indices, new_rows)
        if self.carried is not None:
            self.carried.store(indices, batch.epoch, *batch.last_iterate)
        for name, tracker in self.means.items():
            tracker.update_state(terms[name])
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        logs["gradient_norm"] = gradient_norm
        logs["learning_rate"] = self.optimizer.learning_rate
        return logs

    def _logs_this_step(self, step):
        """True, or whether step ``step`` (counted before it) is one whose logs are read."""
        if self._log_every_steps == 1:
            return True
        done = step + 1
        logs = tf.equal(done % self._log_every_steps, 0)
        if self.steps_per_epoch:
            logs = logs | tf.equal(done % self.steps_per_epoch, 0)
        return logs

    def _latest(self, computed, gradient_norm):
        """``gradient_norm`` where it was ``computed``, else the latest computed one."""
        if computed is True:
            return gradient_norm
        latest = tf.where(computed, gradient_norm, self.latest_gradient_norm)
        self.latest_gradient_norm.assign(latest)
        return latest

    def _awp_gradients(self, batch, norm_wanted=True):
        """The loss terms, new soft-label rows and global gradients (with their norm) at the
        AWP-perturbed weights ``w + v`` (``training/awp.py``); BatchNorm statistics move as in a
        plain step, from the forward at ``w + v``."""
        recipe = self.recipe

        def ascent_loss(network):
            return recipe_lib.loss(recipe, network, self.buffer, batch, lambda *_: None)[0].total

        weights = [tf.convert_to_tensor(v.value) for v in self.network.trainable_variables]
        # A gamma of 0 during the warm-up rather than a tf.cond: a cond around synchronised
        # BatchNorm's collectives cannot run under MirroredStrategy.
        gamma = recipe.awp.gamma * tf.cast(
            awp.is_active(batch.epoch, recipe.awp.warmup_epochs), tf.float32)
        perturbation = awp.perturbation(self.network, ascent_loss, gamma)
        perturbed = [w + v for w, v in zip(weights, perturbation)]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(perturbed)
            network = awp.StatelessNetwork(self.network, perturbed)
            terms, new_rows = recipe_lib.loss(recipe, network, self.buffer, batch,
                                              self.track_accuracy)
            scaled = self.optimizer.scale_loss(terms.total)
        gradients, gradient_norm = global_gradients(tape.gradient(scaled, perturbed), norm_wanted)
        network.write_state()
        # The reference's coupled L2 decay acts on the perturbed weights: add its v part (this
        # replica's share of it; the optimizer sums the replicas' gradients). AdamW's decoupled
        # decay has no gradient term; it acts on w alone (its lr * decay * v part is left out).
        optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)  # float16's
        share = getattr(optimizer, "l2", 0.0) / distributed.num_replicas_in_sync()
        share = self.optimizer.scale_loss(share)  # as the loss's gradients are scaled
        gradients = [g + share * v for g, v in zip(gradients, perturbation)]
        return terms, new_rows, gradients, gradient_norm

    def _unscaled(self, gradient_norm):
        """The norm of the loss's gradients, without float16's loss scale
        (``--mixed_precision``; the optimizer unscales the gradients themselves)."""
        scale = getattr(self.optimizer, "dynamic_scale", None)
        return gradient_norm if scale is None else gradient_norm / scale

    def test_step(self, data):
        images, labels, _ = unpack(data)
        logits = self.network(images, training=False)
        per_example = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        self.means["loss"].update_state(per_example)
        self.accuracies["accuracy"].update_state(labels, logits)
        return {"loss": self.means["loss"].result(), "accuracy": self.accuracies["accuracy"].result()}


def unpack(data):
    """``(images, labels, example_index or None)`` of a batch in any of the forms above."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("a batch must be (images, labels) or (images, labels, example_index)")
    if len(data) == 3:
        return tuple(data)
    inputs, labels = data
    if isinstance(inputs, (tuple, list)):
        return inputs[0], labels, inputs[1]
    return inputs, labels, None
