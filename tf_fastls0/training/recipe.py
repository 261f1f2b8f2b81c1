"""What one training step does for a config: its objective, its add-ons' hooks and the attack.

``Recipe`` is made once from a ``TrainConfig`` and the tables (``methods.py``: the method, its
objective's record and the records of its add-ons, ``losses/records.py``).
``SparseAdversarialModel.train_step`` calls, in order:

- ``prepare``, outside the gradient tape (nothing the update differentiates through): the
  add-ons' ``noise`` (N-FGSM), their ``perturb_weights`` (N-LAP's layer-aware step), then the
  clean logits in inference mode, the soft-label rows and the attack, started where an add-on's
  ``attack_start`` says (ATTA): a ``PreparedBatch``;
- ``loss``, inside the tape (or inside the ``gradients`` hook of the add-on that takes them:
  AWP): the objective's record says what it reads; the add-ons' ``loss_term``s are added; it
  returns the loss terms (the objective's two under its record's ``log_names``, each add-on's
  under its own) and, with self-adaptive soft labels, the rows moved toward this step's clean
  prediction;
- ``finish``, after the update: the add-ons' ``restore_weights`` and ``store``, and the moved
  soft-label rows written.

The per-example state of the add-ons that have one (the soft labels, ATTA's perturbations) is
made once by ``make_states`` and passed in as ``states``, by add-on name.
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from tf_fastls0.attacks import random_variant, sparse_pgd
from tf_fastls0.losses import distributed, soft_targets
from tf_fastls0.losses.records import Objective

# The run's settings (by flat key) the training attack reads, besides the run's ``seed`` and
# what the objective and add-ons read (``method_settings.py``).
ATTACK_READS = ("train_eps", "eval_eps", "attack_iterations", "attack_variant", "attack_patience",
                "threat_model")
SOFT_LABELS = "soft_labels"  # the add-on whose rows are the objective's targets


class LossTerms(dict):
    """``total``: this replica's share of the global-batch loss (what is differentiated);
    every other entry is a value to log, averaged over the epoch (``loss`` always present)."""

    @property
    def total(self):
        return self["total"]


@dataclasses.dataclass(frozen=True)
class DataFacts:
    """What the add-ons' per-example state needs of the training data: ``train_labels`` None
    when they are not known up front (a user's stream; the soft labels fill their rows as the
    examples are seen); ``augment``: pad-crop-flip, which ATTA undoes."""

    num_examples: int
    image_shape: tuple
    num_classes: int
    train_labels: Optional[object] = None
    augment: bool = False


@dataclasses.dataclass(frozen=True)
class PreparedBatch:
    """A step's inputs to the loss. ``images``: the clean images the attack is given (with
    N-FGSM's noise where the run adds it); ``epoch``/``step``: of this step;
    after the attack: ``adversarial`` (the images the objective trains on, no gradient),
    ``clean_logits`` (inference mode), ``rows`` (the soft-label rows, with self-adaptive soft
    labels), ``last_iterate`` (sPGD's ``(mask, magnitude)``; ATTA stores it) and ``start`` (the
    same of the attack's start; N-AAER's clean forward is there). Unattacked (standard
    training) they stay None."""

    images: tf.Tensor
    labels: tf.Tensor
    indices: tf.Tensor
    epoch: tf.Tensor
    step: tf.Tensor
    rows: Optional[tf.Tensor] = None
    clean_logits: Optional[tf.Tensor] = None
    adversarial: Optional[tf.Tensor] = None
    last_iterate: Optional[tuple] = None
    start: Optional[tuple] = None


@dataclasses.dataclass(frozen=True)
class Recipe:
    objective: Objective  # the objective's record (losses/records.py)
    adversarial: bool
    coefficients: object = None  # an instance of objective.settings (None: its defaults)
    # ``(record, settings)`` of each add-on the run has and that changes something, in
    # ``methods.ADD_ONS`` order (the order their hooks are called in).
    add_ons: tuple = ()
    eps: int = 0
    attack_iterations: int = 1
    attack_variant: str = "random"
    attack_patience: int = 10
    attack_loss: str = "ce"  # "ce", "kl" (sTRADES F) or "soft_ce" (to the soft labels)
    seed: int = 0
    threat: object = dataclasses.field(default=None, compare=False)  # threats.Threat; None: pixels

    def hooked(self, hook):
        """``(record, settings)`` of the run's add-ons that have ``hook``."""
        return [(record, settings) for record, settings in self.add_ons
                if getattr(record, hook)]

    @property
    def objective_function(self):
        """``(clean_logits, adv_logits, targets[, ramp_fraction]) -> ObjectiveTerms``."""
        return self.objective.bound(self.coefficients)

    @property
    def self_adaptive(self):
        return any(record.name == SOFT_LABELS for record, _ in self.add_ons)

    @property
    def trains_on_last_iterate(self):
        """The objective trains on the attack's last iterate, not on its best input: N-AAER's
        (its record's ``last_iterate``) and ATTA's, which trains on the perturbation it carries
        on (``atta_buffer.py``)."""
        return self.objective.last_iterate or bool(self.hooked("last_iterate"))

    @property
    def logged_means(self):
        """The names of the values a step logs besides ``loss``: the objective's two terms, the
        mean soft-label weight and the objective's diagnostics, then the add-ons' values."""
        if not self.adversarial:
            return ()
        return (self.objective.log_names + ("soft_label_weight",) + self.objective.diagnostics
                + tuple(name for record, _ in self.add_ons for name in record.log_names))

    @property
    def logged_accuracies(self):
        return ("adversarial_accuracy",) if self.adversarial else ()

    @property
    def gradient_taker(self):
        """``(record, settings)`` of the add-on that takes the loss's gradients, or None."""
        taken = self.hooked("gradients")
        return taken[0] if taken else None


def recipe_for(config, image_shape=None):
    """The ``Recipe`` of a ``TrainConfig`` (``image_shape`` ``(H, W, C)`` places a structured
    threat; needed unless the threat is pixels)."""
    method = config.method_entry
    objective = method.objective_record
    add_ons = tuple((record, getattr(config, record.name) if record.settings else None)
                    for record in config.add_ons)
    return Recipe(
        objective=objective,
        coefficients=getattr(config, objective.name) if objective.settings else None,
        adversarial=method.adversarial,
        add_ons=tuple((record, settings) for record, settings in add_ons
                      if not record.is_inert(settings)),
        eps=config.train_eps, attack_iterations=config.attack_iterations,
        attack_variant=config.attack_variant, attack_patience=config.attack_patience,
        attack_loss=_attack_loss(config, objective.name), seed=config.seed,
        threat=config.threat_model.structured(image_shape))


def _attack_loss(config, objective_name):
    if objective_name == "strades" and config.trades_mode == "F":
        return "kl"
    if config.self_adaptive and config.soft_label_attack_target == "soft":
        return "soft_ce"
    return "ce"


def make_states(config, recipe, facts):
    """``{add-on name: its per-example state}`` for the run's add-ons that keep one; call it in
    the strategy's scope."""
    return {record.name: record.state(config, facts) for record, _ in recipe.add_ons
            if record.state}


def checkpoint_items(recipe, states):
    """``{checkpoint name: variable}`` of the add-ons' per-example states."""
    return {record.checkpoint_name: states[record.name].rows for record, _ in recipe.add_ons
            if record.state}


def prepare(recipe, network, states, images, labels, indices, step, steps_per_epoch,
            optimizer=None):
    """The batch ready for the loss: noise, weight perturbations, clean logits, soft-label rows
    and the attack (see the module docstring). Standard training: the batch as it is.
    ``optimizer``: the run's, which the add-ons that move the weights before the attack take
    (N-LAP's step); without it the weights stay (the attack alone, as benchmarks measure it)."""
    buffer = states.get(SOFT_LABELS)
    if buffer is not None and not buffer.labels_known:
        buffer.fill_unset(indices, labels)
    batch = PreparedBatch(images=images, labels=labels, indices=indices,
                          epoch=step // steps_per_epoch, step=step)
    if not recipe.adversarial:
        return batch
    for record, settings in recipe.hooked("noise"):
        batch = dataclasses.replace(batch, images=record.noise(batch, settings, recipe))
    for record, settings in recipe.hooked("perturb_weights") if optimizer is not None else ():
        record.perturb_weights(network, batch, optimizer, settings)
    return _attacked(recipe, network, states, batch)


def _attacked(recipe, network, states, batch):
    images, labels, indices = batch.images, batch.labels, batch.indices
    inference = lambda x: network(x, training=False)  # noqa: E731  (SPEC §2.9)
    clean_logits = inference(images)
    buffer = states.get(SOFT_LABELS)
    rows = buffer.lookup(indices) if buffer is not None else None
    loss = {"loss": recipe.attack_loss}
    if recipe.attack_loss == "soft_ce":
        loss["soft_targets"] = rows
    initial = None
    for record, _ in recipe.hooked("attack_start"):
        initial = record.attack_start(states[record.name], batch)
    attack = sparse_pgd(
        inference, images, labels, eps=recipe.eps, iterations=recipe.attack_iterations,
        projected=_projected(recipe, batch.step), patience=recipe.attack_patience,
        clean_logits=clean_logits, keys=indices, seed=recipe.seed, counter=batch.step,
        threat=recipe.threat, initial=initial, **loss)
    adversarial = (perturbed_images(images, attack.last_iterate)
                   if recipe.trains_on_last_iterate else attack.adversarial)
    return dataclasses.replace(batch, adversarial=tf.stop_gradient(adversarial), rows=rows,
                               clean_logits=clean_logits, last_iterate=attack.last_iterate,
                               start=attack.start)


def perturbed_images(images, perturbation):
    """``x + mask * p`` of an sPGD iterate ``perturbation = (mask, p)``: its last iterate itself,
    where sPGD's best-tracking would return ``x`` wherever the iterate lowered the loss
    (``losses/aaer.py``, ``atta_buffer.py``), or its start (N-AAER's clean forward)."""
    mask, magnitude = perturbation
    return tf.cast(tf.cast(images, tf.float32) + magnitude * mask, images.dtype)


def _projected(recipe, step):
    if recipe.attack_variant != "random":
        return recipe.attack_variant == "projected"
    return random_variant(recipe.seed, step)


def loss(recipe, network, states, batch, track_accuracy):
    """``(LossTerms, new soft-label rows or None)``, inside the gradient tape.

    The clean training-mode forward runs before the adversarial one, as in the reference code,
    so BatchNorm's moving statistics are weighted as there. sAT has no clean term and trains on
    the adversarial forward alone; its soft labels move toward the clean inference logits. The
    objective's two terms are logged under its record's ``log_names``, each add-on's values
    under its own.
    """
    objective = recipe.objective
    clean_logits = batch.clean_logits
    if objective.reads_clean:
        clean_images = (perturbed_images(batch.images, batch.start) if objective.clean_at_start
                        else batch.images)
        clean_logits = network(clean_images, training=True)
    adversarial_logits = (network(batch.adversarial, training=True)
                          if objective.reads_adversarial else None)
    targets, new_rows = batch.labels, None
    buffer = states.get(SOFT_LABELS)
    if buffer is not None:
        # Self-adaptive training's rule: the rows move toward this step's clean prediction
        # first, and the loss uses the moved rows (Huang et al. 2020).
        new_rows = buffer.moved(batch.rows, clean_logits, batch.epoch)
        targets = new_rows
    extra = {}
    if objective.ramp is not None:
        extra["ramp_fraction"] = objective.ramp(batch.epoch, recipe.coefficients)
    terms = recipe.objective_function(clean_logits, adversarial_logits, targets, **extra)
    track_accuracy("accuracy", batch.labels, clean_logits)
    replicas = distributed.num_replicas_in_sync()
    total = terms.total
    logged = LossTerms()
    for record, settings in recipe.hooked("loss_term"):
        value, shares = record.loss_term(network, batch, targets, settings, recipe)
        total += value
        logged.update({name: share * replicas for name, share in shares.items()})
    logged.update(total=total, loss=total * replicas)
    if recipe.adversarial:
        track_accuracy("adversarial_accuracy", batch.labels, adversarial_logits)
        weights = soft_targets.target_weights(targets) if buffer is not None else \
            tf.ones_like(batch.labels, tf.float32)
        clean_name, adversarial_name = objective.log_names
        logged.update({clean_name: terms.clean * replicas,
                       adversarial_name: terms.adversarial * replicas,
                       "soft_label_weight": tf.reduce_mean(weights)},
                      **(terms.diagnostics or {}))
    return logged, new_rows


def finish(recipe, network, states, batch, new_rows):
    """After the update: the add-ons' restores and stores, and the moved soft-label rows."""
    for record, settings in recipe.hooked("restore_weights"):
        record.restore_weights(network, settings)
    if new_rows is not None:
        states[SOFT_LABELS].store(batch.indices, new_rows)
    for record, _ in recipe.hooked("store"):
        record.store(states[record.name], batch)
