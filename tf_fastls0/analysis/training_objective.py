"""The adversarial training loss as a function of the weights, for Hessians and landscapes
(SPEC sections 5 and 8), given as loss parts (see ``loss_parts``).

Objectives: those of ``losses.objectives.OBJECTIVES``: ``"sparse_at"`` (sAT: CE on the adversarial
examples), ``"tradeoff"`` (paper Eq. 8), ``"strades"`` (CE + beta KL) and ``"clean"`` (CE on the
clean images). The adversarial examples
are held fixed (made once, before) unless an ``attack`` is given, in which case each part makes
its batch's examples afresh at the current weights (the landscape's "reattack" mode). Hard labels
throughout: the trainer's SAT soft targets are not part of an exported model. Each objective's
coefficients are given (``coefficients``, its record's ``coefficients``: the fields of its settings;
the analysis reads them from the run's ``config.json``), its papers' defaults where left out; NuAT's
nuclear norm and AdvLC's top fraction are taken over each part's batch (as in training), so they
do not add up over parts to their value on the whole set.
"""

import functools

import tensorflow as tf

from tf_fastls0.losses import objectives
from tf_fastls0.training.methods import method_named

NAMES = tuple(objectives.OBJECTIVES)
DISPLAY_NAMES = {name: record.display_name for name, record in objectives.OBJECTIVES.items()}


def objective_for_method(method):
    """The analysis objective of a training method (``config.json``'s ``method``)."""
    return method_named(method).objective


def batch_objective(name, coefficients=None):
    """``(clean_logits, adv_logits, labels) -> batch mean loss``; unused logits may be None."""
    objective = functools.partial(objectives.OBJECTIVES[name].function, **(coefficients or {}))
    return lambda clean, adversarial, labels: objective(clean, adversarial, labels).total


def needs_adversarial(name):
    return objectives.OBJECTIVES[name].reads_adversarial


def _part(model, *, objective, uses_clean, images, labels, keys, adversarial, attack, share):
    def model_fn(x):
        return model(x, training=False)

    clean_logits = model_fn(images) if uses_clean else None
    if attack is not None:
        adversarial = attack(model_fn, images, labels, keys)
    adv_logits = model_fn(adversarial) if adversarial is not None else None
    return objective(clean_logits, adv_logits, labels) * share


def objective_parts(name, images, labels, adversarial=None, *, attack=None, batch_size=128,
                    coefficients=None):
    """Parts ``part(model) -> scalar`` summing to the mean objective over all examples.

    Args:
      name: one of ``NAMES``.
      images: clean float ``[N, H, W, C]`` in [0, 1]; labels int ``[N]``.
      adversarial: fixed adversarial examples like ``images`` (needed unless ``name="clean"`` or
        ``attack`` is given).
      attack: ``attack(model_fn, images, labels, keys, batch_index=b) -> adversarial``, run inside
        each part (keys are the examples' positions, b the part's number).
      batch_size: examples per part.
      coefficients: the objective's coefficients by parameter name (``{"beta": 3.0}`` for MART);
        the papers' defaults where left out.
    """
    if needs_adversarial(name) and adversarial is None and attack is None:
        raise ValueError(f"objective {name!r} needs adversarial examples or an attack")
    images = tf.convert_to_tensor(images, tf.float32)
    labels = tf.convert_to_tensor(labels, tf.int32)
    if adversarial is not None:
        adversarial = tf.convert_to_tensor(adversarial, tf.float32)
    total = images.shape[0]
    objective = batch_objective(name, coefficients)
    uses_adversarial = needs_adversarial(name)
    parts = []
    for batch_index, start in enumerate(range(0, total, batch_size)):
        stop = min(start + batch_size, total)
        fixed = adversarial[start:stop] if uses_adversarial and attack is None else None
        batch_attack = (functools.partial(attack, batch_index=batch_index)
                        if uses_adversarial and attack is not None else None)
        parts.append(functools.partial(
            _part, objective=objective, uses_clean=objectives.OBJECTIVES[name].reads_clean,
            images=images[start:stop],
            labels=labels[start:stop], keys=tf.range(start, stop, dtype=tf.int64),
            adversarial=fixed, attack=batch_attack, share=(stop - start) / total))
    return parts
