"""A toy attack, as a new attack is added: its module (the function with the interface of
``attacks.common``) and its registry record. ``test_toy_attack.py`` adds the record to the
registry (the one line ``attacks/registry.py`` would get) and runs it through the evaluation."""

import tensorflow as tf

from tf_fastls0.attacks import common
from tf_fastls0.attacks.registry import Attack


def darken_first_pixels(model, images, labels, *, eps, iterations=1, keys=None, seed=0,
                        counter=0, clean_logits=None, compact=True, threat=None):
    """Sets the first ``eps`` pixels (row-major) of each image to black; ``iterations`` is taken
    from the evaluation's budget and unused, as are the keyed-randomness settings."""
    del iterations, seed, counter, compact
    common.refuse_structured(threat, "darken_first_pixels")
    clean = common.prepare(model, images, labels, attack="darken_first_pixels", keys=keys,
                           clean_logits=clean_logits)
    height, width = clean.x.shape[1], clean.x.shape[2]
    first = tf.reshape(tf.range(height * width) < eps, [1, height, width, 1])
    adversarial = tf.where(first, tf.zeros_like(clean.x), clean.x)
    fooled = common.fooled(clean.model_fn(adversarial), clean.labels)
    return common.AttackResult(tf.cast(adversarial, clean.images.dtype), fooled)


ATTACK = Attack("darken", "Darken", darken_first_pixels,
                budget=lambda budget: {"iterations": budget.iterations}, code=7, counter=7)
