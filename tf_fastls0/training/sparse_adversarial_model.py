"""``SparseAdversarialModel``: any Keras classifier trained with a sparse (l0) adversarial method
inside Keras' own ``compile`` / ``fit`` / ``evaluate``.

    model = tf_fastls0.SparseAdversarialModel(classifier, method="fast_ls_l0", train_eps=120)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    model.fit(train_ds, epochs=10, validation_data=test_ds,
              callbacks=[tf_fastls0.RobustValidation(x_val, y_val, eps=20)])
    classifier.save("robust.keras")      # or model.save(...): the classifier, unchanged

It is the model the command trains too (``python -m tf_fastls0.train`` builds it with ``for_run``,
giving its whole ``TrainConfig`` and the data's facts), so a method behaves the same from Python
and from the command. Its step (``train_step``) follows Keras' guide to a custom step: the batch
made ready outside the tape (``recipe.prepare``: noise, weight perturbations, attack), the loss
inside it (``recipe.loss``; or the gradients through the add-on that takes them, AWP), the
update, then ``recipe.finish`` (what the add-ons store); the classifier (``network``) is what is
exported, the training machinery (recipe, trackers, per-example state) stays out of it.

``classifier``: images float32 NHWC in [0, 1] -> logits (not probabilities), trained in the
precision it was built in (its Keras dtype policy: this wrapper trains the object you pass, so
it never copies it under another; the command's ``--mixed_precision=auto`` chooses for the
network it builds, ``models/precision.py``). ``method``: a name
of the method table (``methods.METHODS``); ``settings``: the method's settings, named as the
command's flags (``training/config.py``: ``train_eps``, ``attack_iterations``, ``strades_beta``,
``soft_label_start_epoch``, ``awp``, ``threat_model`` ...). A setting the method does not read (say
``strades_beta`` with ``sparse_at``) and a setting of the command rather than of the method
(``epochs``, ``batch_size``, ``learning_rate``: give them to ``fit`` and ``compile``) are refused.

Data given to ``fit``:

- numpy arrays ``fit(x, y, batch_size=...)``: the wrapper attaches each image's index to ``x``
  before Keras shuffles, so the index always names the image;
- a ``tf.data.Dataset`` of batches ``(x, y, example_index)``: the index is the user's
  (``with_example_index(ds)`` adds one to an unbatched ``(x, y)`` data set; do it before
  ``shuffle``); ``num_examples`` (one more than the largest index) is then needed by the
  methods with a per-example state (self-adaptive soft labels, ATTA);
- a ``tf.data.Dataset`` of batches ``(x, y)``: each example is indexed by its position in the
  epoch (and, for a repeated data set with ``steps_per_epoch``, modulo ``num_examples``). Keyed
  random draws (N-FGSM noise, the attack's start) only need distinct keys, so every method
  trains; but soft labels and ATTA's carried perturbations then follow the position, not the
  image: right for a data set in the same order every epoch, wrong for one reshuffled every
  epoch. For those methods index before shuffling (above), or fit numpy arrays.

``num_examples`` is read where it can be (the arrays' length; a data set's cardinality times its
first batch's size) and asked for only where it cannot. The settings' names and values are
checked when the model is made; the run's config and recipe are made once, at the first ``fit``
(the command's at construction), so the epochs and steps per epoch of the first ``fit`` fix what
depends on them (and the checks that need them) (``soft_label_start_epoch``'s default, half the epochs;
NuAT's ramp; the epoch of a step, its number // steps per epoch); pass ``soft_label_start_epoch``
when training in several ``fit`` calls. ATTA from Python assumes the images are the same each
epoch (no random augmentation in the data set): its carried perturbations are kept in the image's
own frame.

Before any training step, on every ``fit``, ``fit`` checks numpy arrays whole and a data set's
first batch (``utils/inputs.py``, the check every entry point shares) and refuses, with one line:
a data set without labels, images that are not float ``[N, H, W, C]`` in [0, 1], a classifier
whose outputs are probabilities (a softmax last layer is refused already when the model is
made), labels that are not class numbers of the classifier's classes (labels ``[N, 1]`` are
accepted, as Keras' losses take them), an index beyond ``num_examples``. A data set of single
examples (scalar labels) is refused saying to call ``.batch()``. Every later ``tf.data`` batch is
checked as it is read (``tf.debugging`` asserts in a map over the data set, outside the step: an
assert compiled into an XLA step, Keras' default on a GPU, does nothing), and every op of a step
waits for its batch, the optimizer's step counter included: a label outside the classes, pixels
outside [0, 1] or not finite, an index beyond ``num_examples`` stop ``fit`` with one line before
that batch's update.

Refused rather than ignored: ``sample_weight``/``class_weight`` in ``fit`` and a float third part
of a data set's batches (read as the example index, not a sample weight): the adversarial
objectives weigh every example of a batch equally; ``loss``, ``loss_weights``, ``metrics`` and
``weighted_metrics`` in ``compile``: the loss is the method's objective and the logged metrics are
its own (loss terms, clean and adversarial accuracy). Each is one line.
"""


import math
import re

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tf_fastls0.evaluation.checks import probability_warning
from tf_fastls0.training import fit_data
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.fit_data import INDEX_ERROR, IMAGE_CHECK, LABEL_CHECK, unpack
from tf_fastls0.training.fit_data import with_example_index  # noqa: F401  (the public API's)
from tf_fastls0.training.gradients import global_gradients
from tf_fastls0.training.method_settings import check_settings, config_for
from tf_fastls0.training.methods import add_ons_of, method_named
from tf_fastls0.utils import inputs
from tf_fastls0.utils.cli import UsageError

WHO = "fit"  # names the entry point in a refusal of its data (``utils.inputs``)
_FAILED_CHECK = re.compile(rf"\[({LABEL_CHECK}|{IMAGE_CHECK})\]((?: \[[^\]]*\])*)")
COMPILE_IGNORED = ("loss", "loss_weights", "metrics", "weighted_metrics")
FIT_UNSUPPORTED = ("sample_weight", "class_weight")


class SparseAdversarialModel(keras.Model):
    """``base_model`` trained with ``method`` (see the module docstring). The command gives
    ``config`` (its ``TrainConfig``), ``steps_per_epoch`` and ``facts`` (``recipe.DataFacts``)
    instead of a method's keywords (``for_run``): the model is then set up at once."""

    def __init__(self, base_model, method="fast_ls_l0", *, num_examples=None, config=None,
                 steps_per_epoch=None, facts=None, **settings):
        _refuse_softmax_output(base_model)
        super().__init__()
        self.network = base_model
        self.num_examples = num_examples
        # The Python API's keywords, checked now; its config is made at the first fit.
        self.settings = None if config is not None else check_settings(dict(settings,
                                                                            method=method))
        self.recipe, self.states, self.steps_per_epoch = None, {}, None
        self._log_every_steps = 1
        with self.distribute_strategy.scope():
            # The gradient norm of the latest step that computed it (see ``log_every_steps``).
            self.latest_gradient_norm = keras.Variable(
                0.0, trainable=False, name="latest_gradient_norm",
                aggregation="only_first_replica")
        self.means = {"loss": keras.metrics.Mean(name="loss")}
        self.accuracies = {"accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy")}
        if config is not None:
            self._set_up(config, steps_per_epoch, facts)

    @classmethod
    def for_run(cls, network, config, steps_per_epoch, image_shape, train_labels, num_classes,
                augment):
        """The command's model: ``config`` a ``TrainConfig``, the labels of the training split
        known up front, its images augmented with pad-crop-flip if ``augment``."""
        facts = recipe_lib.DataFacts(len(train_labels), tuple(image_shape), num_classes,
                                     train_labels, augment)
        return cls(network, config=config, num_examples=facts.num_examples,
                   steps_per_epoch=steps_per_epoch, facts=facts)

    def _set_up(self, config, steps_per_epoch, facts):
        """The run's recipe, its steps per epoch (a step's epoch is its number // this), the
        add-ons' per-example state and the trackers of what the step logs; made once."""
        self.recipe = recipe_lib.recipe_for(config, facts.image_shape)
        self.steps_per_epoch = steps_per_epoch
        with self.distribute_strategy.scope():
            self.states = recipe_lib.make_states(config, self.recipe, facts)
            self.means.update({name: keras.metrics.Mean(name=name)
                               for name in self.recipe.logged_means})
            self.accuracies.update({name: keras.metrics.SparseCategoricalAccuracy(name=name)
                                    for name in self.recipe.logged_accuracies})

    @property
    def base_model(self):
        return self.network

    @property
    def buffer(self):
        """The self-adaptive soft labels' buffer (``soft_label_buffer.py``), or None."""
        return self.states.get(recipe_lib.SOFT_LABELS)

    @property
    def _needs_num_examples(self):
        if self.recipe is not None:
            return any(record.state for record, _ in self.recipe.add_ons)
        method = method_named(self.settings["method"])
        return any(record.state for record in add_ons_of(method, self.settings.get))

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
        return recipe_lib.checkpoint_items(self.recipe, self.states)

    def track_accuracy(self, name, labels, logits):
        self.accuracies[name].update_state(labels, logits)

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, **kwargs):
        """Keras' ``compile`` less what this model would ignore: the loss is the method's
        objective and the logged metrics are its own (loss terms, clean and adversarial
        accuracy), so ``loss``, ``loss_weights``, ``metrics`` and ``weighted_metrics`` are
        refused in one line rather than dropped without a word."""
        given = dict(zip(COMPILE_IGNORED, (loss, loss_weights, metrics, weighted_metrics)))
        named = [f"{name}=" for name, value in given.items() if value is not None]
        if named:
            raise UsageError(f"compile: {', '.join(named)} would be ignored: the method's "
                             "objective is the loss (choose it with method=) and fit logs its own "
                             "loss terms and accuracies; pass the optimizer only")
        return super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, steps_per_epoch=None, **kwargs):
        unsupported = [f"{name}=" for name in FIT_UNSUPPORTED if kwargs.get(name) is not None]
        if unsupported:
            raise UsageError(f"fit: {', '.join(unsupported)} not supported: the adversarial "
                             "objectives weigh every example of a batch equally")
        if isinstance(x, tf.data.Dataset):
            if y is not None:
                raise UsageError("fit: give the labels inside the data set, not as y")
            x, steps = self._indexed_dataset(x, steps_per_epoch)
        else:
            x, y, steps = self._indexed_arrays(x, y, batch_size, steps_per_epoch)
        if self.recipe is None:
            self._set_up(config_for(self.settings, epochs), steps,
                         recipe_lib.DataFacts(self.num_examples, self._image_shape,
                                              self._num_classes))
        try:
            return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                               steps_per_epoch=steps_per_epoch, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            refusal = self._refusal_of(str(error))
            if refusal is None:
                raise
            raise UsageError(f"fit: {refusal}; training stopped before its step") from None

    def _refusal_of(self, text):
        """What a failed check of a later batch (``train_step``) says, in one line; None for
        other errors."""
        if INDEX_ERROR in text:
            return f"a batch has an {INDEX_ERROR} ({self.num_examples})"
        failed = _FAILED_CHECK.search(text)
        if failed is None:
            return None
        values = re.findall(r"\[([^\]]*)\]", failed.group(2))
        if failed.group(1) == LABEL_CHECK:
            return (f"a batch has label {values[0]}; labels must be class numbers in "
                    f"[0, {self._num_classes}) for the model's {self._num_classes} outputs")
        if any(word in value for value in values for word in ("nan", "inf")):
            return "a batch's images hold NaN or infinite values"
        return (f"a batch's pixels range over [{values[0]}, {values[1]}]; images must be float "
                "in [0, 1] (pixels up to 255: scale them by 1/255)")

    def _indexed_arrays(self, x, y, batch_size, steps_per_epoch):
        if y is None:
            raise UsageError("fit: the training data has no labels: pass fit(x, y) or a data set "
                             "of (x, y) batches")
        # All of the arrays, before any step: a bad image or label in the last batch too.
        images = inputs.check_images(np.asarray(x), WHO)
        labels = inputs.check_labels(y, len(images), WHO)
        if self.num_examples is None:
            self.num_examples = len(images)
        indices = np.arange(len(images), dtype=np.int64)
        self._check_first_batch(images[:batch_size or 32], labels[:batch_size or 32],
                                indices[:batch_size or 32])
        inputs.check_label_range(labels, self._num_classes, WHO)
        steps = steps_per_epoch or math.ceil(len(images) / (batch_size or 32))
        return (images, indices), labels, steps

    def _indexed_dataset(self, dataset, steps_per_epoch):
        spec = dataset.element_spec
        if not isinstance(spec, tuple) or len(spec) not in (2, 3):
            raise UsageError("fit: the data set's elements must be batches (x, y) or (x, y, "
                             "example_index); it has no labels" if not isinstance(spec, tuple)
                             else f"fit: the data set's elements have {len(spec)} parts; "
                             "expected (x, y) or (x, y, example_index)")
        fit_data.refuse_unbatched(spec)
        fit_data.refuse_weights(spec)
        first = next(iter(dataset))
        # A model set up for a run (the command's) already knows its epoch's length.
        steps = steps_per_epoch or fit_data.cardinality(dataset) or self.steps_per_epoch
        if steps is None:
            raise UsageError("fit: the data set's length is unknown or infinite: pass "
                             "steps_per_epoch")
        if len(spec) == 2:
            if self.num_examples is None and fit_data.cardinality(dataset) is not None:
                self.num_examples = steps * int(tf.shape(first[1])[0])  # positions stay below
            if self._needs_num_examples and self.settings is not None:
                logging.warning("fit: the (x, y) data set is indexed by position in the epoch: "
                                "soft labels follow the image only if the order is the same "
                                "every epoch (see tf_fastls0.with_example_index)")
            dataset = fit_data.with_positions(dataset, self.num_examples)
            first = (*first, tf.range(tf.shape(first[1])[0], dtype=tf.int64))
        if self._needs_num_examples and self.num_examples is None:
            raise UsageError(f"method {self.settings['method']!r} keeps a row per training "
                             "example: pass num_examples= (one more than the largest example "
                             "index) to SparseAdversarialModel")
        self._check_first_batch(*first)
        return fit_data.checked(dataset, self._num_classes, self.num_examples), steps

    def _check_first_batch(self, images, labels, indices):
        """One line for what would make training wrong, before any step (on every ``fit``)."""
        images = tf.convert_to_tensor(inputs.check_images(images, WHO))
        labels = inputs.check_labels(labels, images.shape[0], WHO)
        self._image_shape = tuple(int(d) for d in images.shape[1:])
        logits = np.asarray(tf.cast(self.network(images, training=False), tf.float32))
        if logits.ndim != 2:
            raise UsageError(f"fit: the classifier returns shape {list(logits.shape)}; it must "
                             "return logits [batch, classes]")
        if probability_warning(logits):
            raise UsageError("fit: the classifier's outputs look like probabilities (each row in "
                             "[0, 1], summing to 1); return logits (drop the final softmax)")
        self._num_classes = logits.shape[-1]
        inputs.check_label_range(labels, self._num_classes, WHO)
        if self.num_examples is not None and np.max(indices) >= self.num_examples:
            raise UsageError(f"fit: {INDEX_ERROR} ({np.max(indices)} >= {self.num_examples})")

    def train_step(self, data):
        images, labels, indices = unpack(data)
        if indices is None:
            raise ValueError("a training batch needs its example indices: (images, labels, "
                             "example_index)")
        labels = inputs.check_labels(labels, None, WHO)  # its static shape; [N, 1] read as [N]
        # Every op of the step waits for its batch, which ``fit_data.checked`` checks as it is
        # read: the optimizer's step counter reads no data and would otherwise count a refused
        # batch.
        with tf.control_dependencies(tf.nest.flatten(data)):
            return self._step(images, labels, indices)

    def _step(self, images, labels, indices):
        step = tf.convert_to_tensor(self.optimizer.iterations)
        batch = recipe_lib.prepare(self.recipe, self.network, self.states, images, labels,
                                   indices, step, self.steps_per_epoch, self.optimizer)
        norm_wanted = self._logs_this_step(step)
        terms, new_rows, gradients, gradient_norm = self._gradients(batch, norm_wanted)
        gradient_norm = self._latest(norm_wanted, self._unscaled(gradient_norm))
        self.optimizer.apply(gradients, self.network.trainable_variables)
        recipe_lib.finish(self.recipe, self.network, self.states, batch, new_rows)
        for name, tracker in self.means.items():
            tracker.update_state(terms[name])
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        logs["gradient_norm"] = gradient_norm
        logs["learning_rate"] = self.optimizer.learning_rate
        return logs

    def _loss_at(self, batch):
        """``loss_at(network_like, tracked)``: the step's loss terms and moved soft-label rows
        (``recipe.loss``), the accuracies tracked if ``tracked``."""
        def loss_at(network, tracked):
            track = self.track_accuracy if tracked else (lambda *_: None)
            return recipe_lib.loss(self.recipe, network, self.states, batch, track)

        return loss_at

    def _gradients(self, batch, norm_wanted):
        """``(loss terms, new soft-label rows, global gradients, their norm)``: at the weights,
        or where the add-on that takes the gradients says (AWP)."""
        loss_at = self._loss_at(batch)
        taker = self.recipe.gradient_taker
        if taker is not None:
            record, settings = taker
            return record.gradients(self.network, self.optimizer, loss_at, batch, settings,
                                    norm_wanted)
        with tf.GradientTape() as tape:
            terms, new_rows = loss_at(self.network, True)
            scaled = self.optimizer.scale_loss(terms.total)  # float16's loss scale, if any
        gradients = tape.gradient(scaled, self.network.trainable_variables)
        gradients, gradient_norm = global_gradients(gradients, norm_wanted)
        return terms, new_rows, gradients, gradient_norm

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

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the classifier alone (a ``.keras`` file), as it is."""
        return self.network.save(filepath, overwrite=overwrite, **kwargs)

    def export(self, filepath, **kwargs):
        """Exports the classifier alone (a SavedModel)."""
        return self.network.export(filepath, **kwargs)


def _refuse_softmax_output(model):
    """A classifier whose last layer is a softmax gives probabilities: refused."""
    layers = getattr(model, "layers", None)
    if not layers:
        return
    last = layers[-1]
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Softmax) or activation is keras.activations.softmax or \
            getattr(activation, "__name__", "") == "softmax":
        raise UsageError(f"the classifier's last layer {last.name!r} is a softmax: the methods "
                         "and attacks need logits; build it without the final softmax")
