"""``SparseAdversarialModel``: any Keras classifier trained with a sparse (l0) adversarial method
inside Keras' own ``compile`` / ``fit`` / ``evaluate``.

    model = tf_fastls0.SparseAdversarialModel(classifier, method="fast_ls_l0", train_eps=120)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    model.fit(train_ds, epochs=10, validation_data=test_ds,
              callbacks=[tf_fastls0.RobustValidation(x_val, y_val, eps=20)])
    classifier.save("robust.keras")      # or model.save(...): the classifier, unchanged

It is the trainer the command uses (``trainer.AdversarialTrainer``; ``python -m tf_fastls0.train``
builds it with ``for_run``), so a method behaves the same from Python and from the command.

``classifier``: images float32 NHWC in [0, 1] -> logits (not probabilities), trained in the
precision it was built in (its Keras dtype policy: this wrapper trains the object you pass, so
it never copies it under another; the command's ``--mixed_precision=auto`` chooses for the
network it builds, ``models/precision.py``). ``method``: a name
of the method table (``methods.METHODS``); ``settings``: the method's settings, named as the
command's flags (``training/config.py``: ``train_eps``, ``attack_steps``, ``trades_beta``,
``soft_label_start_epoch``, ``awp``, ``threat_model`` ...). A setting the method does not read (say
``trades_beta`` with ``sparse_at``) and a setting of the command rather than of the method
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
first batch's size) and asked for only where it cannot. The epochs and steps per epoch of the
first ``fit`` fix what depends on them (``soft_label_start_epoch``'s default, half the epochs;
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

import dataclasses
import math
import re

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.evaluation.checks import probability_warning
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.methods import ADD_ONS, METHODS, method_named
from tf_fastls0.training.recipe import recipe_for
from tf_fastls0.training.trainer import AdversarialTrainer, unpack
from tf_fastls0.utils import inputs
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import flag_fields, key_of, rule_of, setting_keys

# The settings every attacked method reads, and those of its objective and add-ons: each record's
# settings (``losses/records.py``) by their flat keys (``trades_beta``, ``awp_gamma``).
ATTACK_SETTINGS = ("train_eps", "eval_eps", "attack_steps", "attack_variant", "attack_patience",
                   "threat_model", "soft_labels", "nfgsm_noise", "awp")
SELF_ADAPTIVE_SETTINGS = ("soft_label_start_epoch", "soft_label_momentum",
                          "soft_label_attack_target")
AWP_SETTINGS = tuple(key for key in setting_keys(ADD_ONS["awp"].settings) if key != "awp")
OBJECTIVE_SETTINGS = {"strades": ("trades_mode",)}  # read by the attack, not the objective
GENERAL_SETTINGS = ("seed",)
PROVISIONAL_EPOCHS = 10**6  # checks the settings before fit says how many epochs there are
INDEX_ERROR = "example index beyond num_examples"
WHO = "fit"  # names the entry point in a refusal of its data (``utils.inputs``)
# What a later tf.data batch's checks say when they fail inside the step (``train_step``): tags
# the error's text carries, each with the batch's first bad values after it.
LABEL_CHECK, IMAGE_CHECK = "label beyond the classes", "pixels beyond 0 to 1"
_FAILED_CHECK = re.compile(rf"\[({LABEL_CHECK}|{IMAGE_CHECK})\]((?: \[[^\]]*\])*)")
COMPILE_IGNORED = ("loss", "loss_weights", "metrics", "weighted_metrics")
FIT_UNSUPPORTED = ("sample_weight", "class_weight")


class SparseAdversarialModel(AdversarialTrainer):
    """``base_model`` trained with ``method`` (see the module docstring)."""

    def __init__(self, base_model, method="fast_ls_l0", *, num_examples=None, config=None,
                 **settings):
        _refuse_softmax_output(base_model)
        if config is None:
            self.settings = dict(settings, method=method)
            config = config_for(self.settings, PROVISIONAL_EPOCHS)
        else:  # the command's whole TrainConfig (``for_run``)
            self.settings = None
        # The loss terms and trackers known now; the recipe of the run is made by ``set_up``
        # once the data and the epochs are known (a structured threat needs the image shape).
        provisional = recipe_for(dataclasses.replace(config, threat_model=ThreatConfig()))
        super().__init__(base_model, provisional, steps_per_epoch=None)
        self.num_examples = num_examples

    @classmethod
    def for_run(cls, network, config, steps_per_epoch, image_shape, train_labels, num_classes,
                augment):
        """The command's model: ``config`` a ``TrainConfig``, the labels of the training split
        known up front, its images augmented with pad-crop-flip if ``augment``."""
        model = cls(network, config=config, num_examples=len(train_labels))
        model._set_up_for(config, steps_per_epoch, image_shape, num_classes,
                          train_labels=train_labels, augment=augment)
        return model

    @property
    def base_model(self):
        return self.network

    def _set_up_for(self, config, steps_per_epoch, image_shape, num_classes, train_labels=None,
                    augment=False):
        self.set_up(
            recipe_for(config, image_shape), steps_per_epoch,
            soft_labels={"num_classes": num_classes, "momentum": config.soft_label_momentum,
                         "start_epoch": config.soft_label_start_epoch, "train_labels": train_labels,
                         "num_examples": self.num_examples},
            carried={"num_examples": self.num_examples, "image_shape": image_shape,
                     "eps": config.train_eps, "augment": augment, "seed": config.seed,
                     "reset_epochs": config.atta.reset_epochs})

    @property
    def _needs_num_examples(self):
        return self.recipe.self_adaptive or self.recipe.carried_perturbation

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
        if self.steps_per_epoch is None:
            self._set_up_on_first_fit(epochs, steps)
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

    def _set_up_on_first_fit(self, epochs, steps):
        config = config_for(self.settings, epochs)
        self._set_up_for(config, steps, self._image_shape, self._num_classes)

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
        _refuse_unbatched(spec)
        _refuse_weights(spec)
        first = next(iter(dataset))
        # A model set up for a run (the command's) already knows its epoch's length.
        steps = steps_per_epoch or _cardinality(dataset) or self.steps_per_epoch
        if steps is None:
            raise UsageError("fit: the data set's length is unknown or infinite: pass "
                             "steps_per_epoch")
        if len(spec) == 2:
            if self.num_examples is None and _cardinality(dataset) is not None:
                self.num_examples = steps * int(tf.shape(first[1])[0])  # positions stay below
            if self._needs_num_examples and self.settings is not None:
                logging.warning("fit: the (x, y) data set is indexed by position in the epoch: "
                                "soft labels follow the image only if the order is the same "
                                "every epoch (see tf_fastls0.with_example_index)")
            dataset = _with_positions(dataset, self.num_examples)
            first = (*first, tf.range(tf.shape(first[1])[0], dtype=tf.int64))
        if self._needs_num_examples and self.num_examples is None:
            raise UsageError(f"method {self.settings['method']!r} keeps a row per training "
                             "example: pass num_examples= (one more than the largest example "
                             "index) to SparseAdversarialModel")
        self._check_first_batch(*first)
        return _checked(dataset, self._num_classes, self.num_examples), steps

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
        labels = inputs.check_labels(labels, None, WHO)  # its static shape; [N, 1] read as [N]
        # Every op of the step waits for its batch, which ``_checked`` checks as it is read: the
        # optimizer's step counter reads no data and would otherwise count a refused batch.
        with tf.control_dependencies(tf.nest.flatten(data)):
            return super().train_step((images, labels, indices))

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the classifier alone (a ``.keras`` file), as it is."""
        return self.network.save(filepath, overwrite=overwrite, **kwargs)

    def export(self, filepath, **kwargs):
        """Exports the classifier alone (a SavedModel)."""
        return self.network.export(filepath, **kwargs)


def config_for(settings, epochs):
    """The ``TrainConfig`` of a method's settings (``settings["method"]`` and its keywords) over
    ``epochs``; ``UsageError`` for a setting that is not the method's. A setting's old name
    (``sat_momentum``) is read as its name."""
    renamed = {old: field.name for field in dataclasses.fields(TrainConfig)
               for old in getattr(rule_of(field), "old_names", ())}
    settings = {renamed.get(name, name): value for name, value in settings.items()}
    method = settings.get("method")
    names = {field.name for field in dataclasses.fields(TrainConfig)} | {
        key_of(field) for field in flag_fields(TrainConfig)}
    for name in settings:
        if name == "method":
            continue
        if name not in names:
            raise UsageError(f"unknown setting {name}=; the settings are the fields of "
                             "tf_fastls0.training.config.TrainConfig")
        if name not in method_settings(method, settings):
            raise UsageError(f"{name}= {_why_not(name, method, settings)}")
    return TrainConfig(epochs=epochs, **settings)


def method_settings(method, settings):
    """The names of the settings ``method`` reads (given the add-ons ``settings`` turns on)."""
    if method not in METHODS and method_named_or_none(method) is None:
        raise UsageError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    entry = method_named(method)
    found = set(GENERAL_SETTINGS)
    if not entry.adversarial:
        return found
    found.update(ATTACK_SETTINGS)
    if entry.objective_record.settings is not None:
        found.update(setting_keys(entry.objective_record.settings))
    found.update(OBJECTIVE_SETTINGS.get(entry.objective, ()))
    for add_on in entry.add_ons:
        found.update(setting_keys(ADD_ONS[add_on].settings))
    if entry.self_adaptive or settings.get("soft_labels") in ("self_adaptive", "sat"):
        found.update(SELF_ADAPTIVE_SETTINGS)
    if settings.get("awp"):
        found.update(AWP_SETTINGS)
    return found


def method_named_or_none(name):
    try:
        return method_named(name)
    except KeyError:
        return None


def _why_not(name, method, settings):
    everywhere = set().union(*(method_settings(other, {"soft_labels": "self_adaptive", "awp": True})
                               for other in METHODS))
    if name not in everywhere:
        return ("is a setting of the command, not of the method: give it to compile() or fit() "
                "(the optimizer, epochs, batch size), or leave it out")
    if name in SELF_ADAPTIVE_SETTINGS:
        return f"does not apply: method {method!r} has no self-adaptive soft labels " \
               "(add soft_labels='self_adaptive')"
    if name in AWP_SETTINGS:
        return "does not apply without awp=True"
    return f"does not apply to method {method!r}"


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


def _refuse_unbatched(spec):
    """One line for a data set of single examples: scalar labels beside images without their
    batch axis (a batch of one-channel images without a channel axis has labels [N])."""
    labels = spec[1]
    if isinstance(labels, tf.TensorSpec) and labels.shape.rank == 0:
        raise UsageError(f"fit: the data set's elements are single examples (images "
                         f"{list(spec[0].shape) if hasattr(spec[0], 'shape') else '?'}, one "
                         "label each): call .batch(batch_size) on it")


def _refuse_weights(spec):
    """One line for batches whose third part is a float: a sample weight, not an index."""
    if len(spec) == 3 and isinstance(spec[2], tf.TensorSpec) and not spec[2].dtype.is_integer:
        raise UsageError(f"fit: the data set's third part is {spec[2].dtype.name}; it is read as "
                         "the example index (integers); sample weights are not supported: the "
                         "adversarial objectives weigh every example of a batch equally")


def _checked(dataset, num_classes, num_examples):
    """``(x, y, example_index)`` batches, each checked as it is read, outside the step (an assert
    compiled into an XLA step does nothing): a label outside ``[0, num_classes)``, pixels outside
    [0, 1] or not finite, an index beyond ``num_examples`` stop ``fit`` there."""
    def check(images, labels, indices):
        checks = [_image_check(images), _label_check(labels, num_classes)]
        if num_examples is not None:
            checks.append(tf.debugging.assert_less(
                tf.cast(indices, tf.int64), tf.constant(num_examples, tf.int64),
                message=f"{INDEX_ERROR} ({num_examples})"))
        with tf.control_dependencies(checks):
            return tf.identity(images), tf.identity(labels), tf.identity(indices)

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE)


def _image_check(images):
    """Asserts that a batch's pixels are finite and in [0, 1], naming its extremes if not."""
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    inside = tf.logical_and(low >= 0, high <= 1) & tf.reduce_all(tf.math.is_finite(images))
    return tf.debugging.Assert(inside, [IMAGE_CHECK, low, high])


def _label_check(labels, num_classes):
    """Asserts that a batch's labels are class numbers in ``[0, num_classes)``, naming the
    first that is not."""
    labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
    outside = tf.logical_or(labels < 0, labels >= num_classes)
    first = tf.gather(labels, tf.argmax(tf.cast(outside, tf.int32)))
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(outside)), [LABEL_CHECK, first])


def _cardinality(dataset):
    count = int(dataset.cardinality())
    return count if count > 0 else None


def _with_positions(dataset, num_examples):
    """``(x, y)`` batches -> ``(x, y, position)``: each example's place in the stream (restarted
    every epoch: Keras iterates a finite data set afresh), modulo ``num_examples`` if known."""
    def add(count, batch):
        images, labels = batch
        size = tf.shape(labels, out_type=tf.int64)[0]
        positions = count + tf.range(size, dtype=tf.int64)
        if num_examples:
            positions %= num_examples
        return count + size, (images, labels, positions)

    return dataset.scan(tf.constant(0, tf.int64), add)


def with_example_index(dataset):
    """An unbatched ``(x, y)`` data set -> ``(x, y, example_index)``, the index the element's
    place in ``dataset``: call it before ``shuffle`` so the index stays with its example."""
    return dataset.enumerate().map(lambda index, element: (*element, index))
