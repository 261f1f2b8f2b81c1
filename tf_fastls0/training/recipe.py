"""What one training step does for a config: noise, attack, loss and the new soft labels.

``Recipe`` is made once from a ``TrainConfig`` and the method table (``methods.py``);
``AdversarialTrainer.train_step`` calls ``prepare`` outside the gradient tape (N-FGSM noise,
N-LAP's weight ascent step, the clean logits in inference mode, the attack: nothing the update
differentiates through), then
``loss`` inside it. ``loss`` returns the loss terms and, with self-adaptive soft labels, the rows
moved toward this step's clean prediction, which the trainer stores after the update.
"""

import dataclasses
from typing import Callable

import tensorflow as tf

from tf_fastls0.attacks import random_variant, sparse_pgd
from tf_fastls0.losses import distributed, fast_bat, grad_align, objectives, soft_targets
from tf_fastls0.losses.sparse_noise import sparse_noise
from tf_fastls0.training import layer_aware


class LossTerms(dict):
    """``total``: this replica's share of the global-batch loss (what is differentiated);
    every other entry is a value to log, averaged over the epoch (``loss`` always present)."""

    @property
    def total(self):
        return self["total"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    objective_name: str
    objective: Callable  # (clean_logits, adversarial_logits, targets) -> ObjectiveTerms
    adversarial: bool
    self_adaptive: bool
    nfgsm_noise: bool
    eps: int = 0
    attack_steps: int = 1
    attack_variant: str = "random"
    attack_patience: int = 10
    attack_loss: str = "ce"  # "ce", "kl" (sTRADES F) or "soft_ce" (to the soft labels)
    seed: int = 0
    ramp_epochs: int = 1  # epochs over which a ramped regulariser reaches its weight
    gradient_alignment: float = 0.0  # GradAlign's lambda (0: no regulariser)
    threat: object = dataclasses.field(default=None, compare=False)  # threats.Threat; None: pixels
    awp_gamma: float = 0.0  # AWP's relative weight perturbation (0: no AWP; training/awp.py)
    awp_warmup_epochs: int = 0
    carried_perturbation: bool = False  # ATTA: the attack starts from the stored perturbation
    lap_beta: float = 0.0  # LAP's layer-aware weight perturbation strength (0: none)
    lap_gamma: float = layer_aware.PAPER_GAMMA
    bilevel_lambda: float = 0.0  # Fast-BAT's lambda (0: no implicit-gradient term)
    raw_iterate: bool = False  # train on the attack's last iterate, not its best input (N-AAER)

    @property
    def logged_means(self):
        return ("clean_loss", "adversarial_loss", "sat_weight") if self.adversarial else ()

    @property
    def logged_regularisers(self):
        return (("gradient_misalignment",) if self.gradient_alignment else ()) + \
            (("implicit_correction",) if self.bilevel_lambda else ())

    @property
    def logged_accuracies(self):
        return ("adversarial_accuracy",) if self.adversarial else ()


def recipe_for(config, image_shape=None):
    """The ``Recipe`` of a ``TrainConfig`` (``image_shape`` ``(H, W, C)`` places a structured
    threat; needed unless the threat is pixels)."""
    name = config.method_entry.objective
    return Recipe(
        objective_name=name,
        objective=objectives.from_settings(name, config),
        adversarial=config.method_entry.adversarial, self_adaptive=config.self_adaptive,
        nfgsm_noise=config.nfgsm, eps=config.train_eps, attack_steps=config.attack_steps,
        attack_variant=config.attack_variant, attack_patience=config.attack_patience,
        attack_loss=_attack_loss(config, name), seed=config.seed,
        ramp_epochs=config.nuat_ramp_epochs,
        gradient_alignment=config.grad_align_lambda if config.method_entry.gradient_alignment
        else 0.0,
        threat=config.threat_model.structured(image_shape),
        awp_gamma=config.awp_gamma if config.awp else 0.0,
        awp_warmup_epochs=config.awp_warmup_epochs, carried_perturbation=config.atta,
        lap_beta=config.lap_beta if config.method_entry.layer_aware_perturbation else 0.0,
        lap_gamma=config.lap_gamma,
        bilevel_lambda=config.fast_bat_lambda if config.method_entry.bilevel_correction else 0.0,
        raw_iterate=name in objectives.TRAINS_ON_LAST_ITERATE)


def _attack_loss(config, objective_name):
    if objective_name == "strades" and config.trades_mode == "F":
        return "kl"
    if config.self_adaptive and config.soft_label_attack_target == "soft":
        return "soft_ce"
    return "ce"


def prepare(recipe, network, buffer, images, labels, indices, step, steps_per_epoch,
            carried=None):
    """The step's inputs to the loss: images (noisy with N-FGSM), their adversarial examples,
    the soft-label rows and the clean inference logits; with ATTA (``carried``, a
    ``PerturbationBuffer``) the attack starts from the stored perturbations and ``last_iterate``
    is what to store."""
    batch = {"images": images, "labels": labels, "indices": indices, "rows": None,
             "clean_logits": None, "adversarial": None, "epoch": step // steps_per_epoch,
             "step": step, "last_iterate": None}
    if not recipe.adversarial:
        return batch
    if recipe.nfgsm_noise:
        images = sparse_noise(images, recipe.eps, indices, recipe.seed, step)
    if recipe.lap_beta:
        layer_aware.perturb(network, images, labels, recipe.lap_beta, recipe.lap_gamma)
    inference = lambda x: network(x, training=False)  # noqa: E731  (SPEC §2.9)
    clean_logits = inference(images)
    rows = buffer.lookup(indices) if buffer is not None else None
    loss = {"loss": recipe.attack_loss}
    if recipe.attack_loss == "soft_ce":
        loss["soft_targets"] = rows
    attack = sparse_pgd(
        inference, images, labels, eps=recipe.eps, iterations=recipe.attack_steps,
        projected=_projected(recipe, step), patience=recipe.attack_patience,
        clean_logits=clean_logits, keys=indices, seed=recipe.seed, counter=step,
        threat=recipe.threat,
        initial=None if carried is None else carried.lookup(indices, batch["epoch"]), **loss)
    adversarial = (last_iterate_images(images, attack.last_iterate) if recipe.raw_iterate
                   else attack.adversarial)
    batch.update(images=images, adversarial=tf.stop_gradient(adversarial), rows=rows,
                 clean_logits=clean_logits, last_iterate=attack.last_iterate)
    return batch


def last_iterate_images(images, last_iterate):
    """The attack's last iterate ``x + mask * p`` itself, where sPGD's best-tracking would
    return ``x`` wherever the iterate lowered the loss (``losses/aaer.py``)."""
    mask, magnitude = last_iterate
    return tf.cast(tf.cast(images, tf.float32) + magnitude * mask, images.dtype)


def _projected(recipe, step):
    if recipe.attack_variant != "random":
        return recipe.attack_variant == "projected"
    return random_variant(recipe.seed, step)


def loss(recipe, network, buffer, batch, track_accuracy):
    """``(LossTerms, new soft-label rows or None)``, inside the gradient tape.

    The clean training-mode forward runs before the adversarial one, as in the reference code,
    so BatchNorm's moving statistics are weighted as there. sAT has no clean term and trains on
    the adversarial forward alone; its soft labels move toward the clean inference logits.
    """
    clean_logits = batch["clean_logits"]
    if objectives.USES_CLEAN[recipe.objective_name]:
        clean_logits = network(batch["images"], training=True)
    adversarial_logits = (network(batch["adversarial"], training=True)
                          if objectives.USES_ADVERSARIAL[recipe.objective_name] else None)
    targets, new_rows = batch["labels"], None
    if buffer is not None:
        # Self-adaptive training's rule: the rows move toward this step's clean prediction
        # first, and the loss uses the moved rows (Huang et al. 2020).
        new_rows = buffer.moved(batch["rows"], clean_logits, batch["epoch"])
        targets = new_rows
    extra = {}
    if recipe.objective_name in objectives.RAMPED:
        ramp = objectives.RAMPED[recipe.objective_name]
        extra["ramp_fraction"] = ramp(batch["epoch"], recipe.ramp_epochs)
    terms = recipe.objective(clean_logits, adversarial_logits, targets, **extra)
    track_accuracy("accuracy", batch["labels"], clean_logits)
    replicas = distributed.num_replicas_in_sync()
    total = terms.total
    logged = LossTerms()
    if recipe.gradient_alignment:
        misalignment = grad_align.gradient_misalignment(
            network, batch["images"], targets, recipe.eps, batch["indices"], recipe.seed,
            batch["step"])
        total += recipe.gradient_alignment * misalignment
        logged.update(gradient_misalignment=misalignment * replicas)
    if recipe.bilevel_lambda:
        correction = fast_bat.implicit_correction(network, batch["images"], batch["adversarial"],
                                                  targets, recipe.bilevel_lambda)
        total += correction
        logged.update(implicit_correction=correction * replicas)
    logged.update(total=total, loss=total * replicas)
    if recipe.adversarial:
        track_accuracy("adversarial_accuracy", batch["labels"], adversarial_logits)
        weights = soft_targets.target_weights(targets) if buffer is not None else \
            tf.ones_like(batch["labels"], tf.float32)
        logged.update(clean_loss=terms.clean * replicas,
                      adversarial_loss=terms.adversarial * replicas,
                      sat_weight=tf.reduce_mean(weights))
    return logged, new_rows


