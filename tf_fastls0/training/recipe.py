"""What one training step does for a config: noise, weight perturbation, attack, loss and the
new soft labels.

``Recipe`` is made once from a ``TrainConfig`` and the tables (``methods.py``: the method, its
objective's record and its add-ons). ``AdversarialTrainer.train_step`` calls, outside the
gradient tape (nothing the update differentiates through): ``started`` (N-FGSM noise), the
recipe's ``WeightPerturbation`` if it has one (N-LAP's layer-aware step, which moves the
network's weights), and ``attacked`` (the clean logits in inference mode, the soft-label rows,
the attack), each giving a ``PreparedBatch``; then ``loss`` inside the tape. ``loss`` reads what
the objective's record says it reads, and returns the loss terms (the objective's two terms under
its record's ``log_names``, the add-ons' under theirs) and, with self-adaptive soft labels, the
rows moved toward this step's clean prediction, which the trainer stores after the update.
"""

import dataclasses
from typing import Optional, Protocol

import tensorflow as tf

from tf_fastls0.attacks import random_variant, sparse_pgd
from tf_fastls0.losses import distributed, fast_bat, grad_align, soft_targets
from tf_fastls0.losses.fast_bat import FastBatSettings
from tf_fastls0.losses.grad_align import GradAlignSettings
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.sparse_noise import sparse_noise
from tf_fastls0.training import layer_aware
from tf_fastls0.training.awp import AwpSettings
from tf_fastls0.training.methods import ADD_ONS


class LossTerms(dict):
    """``total``: this replica's share of the global-batch loss (what is differentiated);
    every other entry is a value to log, averaged over the epoch (``loss`` always present)."""

    @property
    def total(self):
        return self["total"]


@dataclasses.dataclass(frozen=True)
class PreparedBatch:
    """A step's inputs to the loss. ``images``: the clean images the attack is given (with
    N-FGSM's noise where the recipe adds it); ``epoch``/``step``: of this step;
    after the attack (``attacked``): ``adversarial`` (the images the objective trains on, no
    gradient), ``clean_logits`` (inference mode), ``rows`` (the soft-label rows, with
    self-adaptive soft labels), ``last_iterate`` (sPGD's ``(mask, magnitude)``; ATTA stores
    it) and ``start`` (the same of the attack's start; N-AAER's clean forward is there).
    Unattacked (standard training) they stay None."""

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


class WeightPerturbation(Protocol):
    """A step add-on that moves the network's weights, called by the trainer explicitly:
    ``perturb`` (given the run's optimiser) after the batch's noise and before the attack,
    ``restore`` after the update. N-LAP's layer-aware step (``layer_aware.LayerAwareStep``) is
    one; AWP, whose
    perturbed weights exist only inside its loss (``keras.Model.stateless_call``), is taken in
    the trainer's ``_awp_gradients``."""

    def perturb(self, network, batch: PreparedBatch, optimizer) -> None: ...

    def restore(self, network) -> None: ...


@dataclasses.dataclass(frozen=True)
class Recipe:
    objective: Objective  # the objective's record (losses/records.py)
    adversarial: bool
    self_adaptive: bool
    nfgsm_noise: bool
    coefficients: object = None  # an instance of objective.settings (None: its defaults)
    eps: int = 0
    attack_steps: int = 1
    attack_variant: str = "random"
    attack_patience: int = 10
    attack_loss: str = "ce"  # "ce", "kl" (sTRADES F) or "soft_ce" (to the soft labels)
    seed: int = 0
    threat: object = dataclasses.field(default=None, compare=False)  # threats.Threat; None: pixels
    # The step add-ons (``methods.ADD_ONS``) the run has, each by its settings (None: not had).
    grad_align: Optional[GradAlignSettings] = None  # GradAlign's regulariser
    fast_bat: Optional[FastBatSettings] = None  # Fast-BAT's implicit-gradient term
    awp: Optional[AwpSettings] = None  # the loss at AWP's perturbed weights
    carried_perturbation: bool = False  # ATTA: the attack starts from the stored perturbation
    weight_perturbation: Optional[WeightPerturbation] = None  # N-LAP's, before the attack

    @property
    def objective_function(self):
        """``(clean_logits, adv_logits, targets[, ramp_fraction]) -> ObjectiveTerms``."""
        return self.objective.bound(self.coefficients)

    @property
    def trains_on_last_iterate(self):
        """The objective trains on the attack's last iterate, not on its best input: N-AAER's
        (its record's ``last_iterate``) and ATTA's, which trains on the perturbation it carries
        on (``atta_buffer.py``)."""
        return self.objective.last_iterate or self.carried_perturbation

    @property
    def logged_means(self):
        if not self.adversarial:
            return ()
        return self.objective.log_names + ("sat_weight",) + self.objective.diagnostics

    @property
    def logged_regularisers(self):
        return tuple(name for add_on in (self.grad_align and ADD_ONS["grad_align"],
                                         self.fast_bat and ADD_ONS["fast_bat"]) if add_on
                     for name in add_on.log_names)

    @property
    def logged_accuracies(self):
        return ("adversarial_accuracy",) if self.adversarial else ()


def recipe_for(config, image_shape=None):
    """The ``Recipe`` of a ``TrainConfig`` (``image_shape`` ``(H, W, C)`` places a structured
    threat; needed unless the threat is pixels)."""
    method = config.method_entry
    objective = method.objective_record
    lap = config.lap if method.has("lap") and config.lap.beta else None
    return Recipe(
        objective=objective,
        coefficients=getattr(config, objective.name) if objective.settings else None,
        adversarial=method.adversarial, self_adaptive=config.self_adaptive,
        nfgsm_noise=config.nfgsm, eps=config.train_eps, attack_steps=config.attack_steps,
        attack_variant=config.attack_variant, attack_patience=config.attack_patience,
        attack_loss=_attack_loss(config, objective.name), seed=config.seed,
        grad_align=config.grad_align if method.has("grad_align") and config.grad_align.weight
        else None,
        fast_bat=config.fast_bat if method.has("fast_bat") else None,
        threat=config.threat_model.structured(image_shape),
        awp=config.awp if config.awp.enabled and config.awp.gamma else None,
        carried_perturbation=config.carries_perturbations,
        weight_perturbation=layer_aware.LayerAwareStep(lap) if lap else None)


def _attack_loss(config, objective_name):
    if objective_name == "strades" and config.trades_mode == "F":
        return "kl"
    if config.self_adaptive and config.soft_label_attack_target == "soft":
        return "soft_ce"
    return "ce"


def started(recipe, images, labels, indices, step, steps_per_epoch):
    """The batch before its attack: the images with N-FGSM's noise where the recipe adds it."""
    if recipe.adversarial and recipe.nfgsm_noise:
        images = sparse_noise(images, recipe.eps, indices, recipe.seed, step)
    return PreparedBatch(images=images, labels=labels, indices=indices,
                         epoch=step // steps_per_epoch, step=step)


def attacked(recipe, network, buffer, batch, carried=None):
    """``batch`` with its adversarial examples, the soft-label rows and the clean inference
    logits; with ATTA (``carried``, a ``PerturbationBuffer``) the attack starts from the stored
    perturbations and ``last_iterate`` is what to store. Standard training: ``batch`` as is."""
    if not recipe.adversarial:
        return batch
    images, labels, indices = batch.images, batch.labels, batch.indices
    inference = lambda x: network(x, training=False)  # noqa: E731  (SPEC §2.9)
    clean_logits = inference(images)
    rows = buffer.lookup(indices) if buffer is not None else None
    loss = {"loss": recipe.attack_loss}
    if recipe.attack_loss == "soft_ce":
        loss["soft_targets"] = rows
    attack = sparse_pgd(
        inference, images, labels, eps=recipe.eps, iterations=recipe.attack_steps,
        projected=_projected(recipe, batch.step), patience=recipe.attack_patience,
        clean_logits=clean_logits, keys=indices, seed=recipe.seed, counter=batch.step,
        threat=recipe.threat,
        initial=None if carried is None else carried.lookup(indices, batch.epoch), **loss)
    adversarial = (perturbed_images(images, attack.last_iterate)
                   if recipe.trains_on_last_iterate else attack.adversarial)
    return dataclasses.replace(batch, adversarial=tf.stop_gradient(adversarial), rows=rows,
                               clean_logits=clean_logits, last_iterate=attack.last_iterate,
                               start=attack.start)


def prepare(recipe, network, buffer, images, labels, indices, step, steps_per_epoch,
            carried=None):
    """``started`` then ``attacked``: the step's inputs to the loss, without the recipe's
    weight perturbation (the trainer takes it in between)."""
    batch = started(recipe, images, labels, indices, step, steps_per_epoch)
    return attacked(recipe, network, buffer, batch, carried)


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


def loss(recipe, network, buffer, batch, track_accuracy):
    """``(LossTerms, new soft-label rows or None)``, inside the gradient tape.

    The clean training-mode forward runs before the adversarial one, as in the reference code,
    so BatchNorm's moving statistics are weighted as there. sAT has no clean term and trains on
    the adversarial forward alone; its soft labels move toward the clean inference logits. The
    objective's two terms are logged under its record's ``log_names``.
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
    if recipe.grad_align is not None:
        misalignment = grad_align.gradient_misalignment(
            network, batch.images, targets, recipe.eps, batch.indices, recipe.seed, batch.step)
        total += recipe.grad_align.weight * misalignment
        logged.update(gradient_misalignment=misalignment * replicas)
    if recipe.fast_bat is not None:
        correction = fast_bat.implicit_correction(network, batch.images, batch.adversarial,
                                                  targets, recipe.fast_bat.weight)
        total += correction
        logged.update(implicit_correction=correction * replicas)
    logged.update(total=total, loss=total * replicas)
    if recipe.adversarial:
        track_accuracy("adversarial_accuracy", batch.labels, adversarial_logits)
        weights = soft_targets.target_weights(targets) if buffer is not None else \
            tf.ones_like(batch.labels, tf.float32)
        clean_name, adversarial_name = objective.log_names
        logged.update({clean_name: terms.clean * replicas,
                       adversarial_name: terms.adversarial * replicas,
                       "sat_weight": tf.reduce_mean(weights)}, **(terms.diagnostics or {}))
    return logged, new_rows
