"""Adversarial examples for the analyses, made batch by batch over arrays held in memory.

- ``spgd_adversarial``: sPGD as training runs it (SPEC section 2; 1 step for "1-step sPGD",
  the run's patience, 10 by default, and its gradient variant, by default drawn per batch with
  probability 1/2);
- ``saa``: the Sparse-AutoAttack cascade (SPEC section 4) at a chosen budget.
An example's random draws are keyed by its position in the arrays, so results do not depend on
the batch size, and the variant of batch b is ``random_variant(seed, counter=b)``.
"""

import numpy as np
import tensorflow as tf

from tf_fastls0.attacks import random_variant, sparse_autoattack, sparse_pgd
from tf_fastls0.training.recipe import perturbed_images

VARIANTS = ("random", "projected", "unprojected")
TRAINING_PATIENCE = 10  # SPEC section 2.6: restart patience of the training attack


def batch_projected(batch_index, variant="random", seed=0):
    """Whether batch ``batch_index`` uses the projected gradient (a Python bool, also when asked
    while a tf.function is traced: the draw is made eagerly, so the variant is static)."""
    if variant == "random":
        with tf.init_scope():
            return bool(random_variant(seed, batch_index))
    return variant == "projected"


def spgd_batch(model_fn, images, labels, keys, *, eps, iterations, projected, seed=0,
               patience=TRAINING_PATIENCE, last_iterate=False):
    """One batch's sPGD adversarial images (a tensor like ``images``); tf.function-safe. With
    ``last_iterate`` the attack's last iterate itself, as N-AAER trains on it
    (its record's ``last_iterate``, ``losses/aaer.py``), instead of its best input."""
    result = sparse_pgd(model_fn, images, labels, eps=eps, iterations=iterations,
                        projected=projected, loss="ce", patience=patience, keys=keys, seed=seed,
                        compact=not last_iterate)
    return (perturbed_images(images, result.last_iterate) if last_iterate
            else result.adversarial)


def spgd_adversarial(model_fn, images, labels, *, eps, iterations=1, variant="random",
                     batch_size=128, seed=0, patience=TRAINING_PATIENCE, last_iterate=False,
                     progress=None):
    """sPGD adversarial examples for all ``images`` (float ``[N, H, W, C]`` in [0, 1]) -> numpy.

    ``progress``, if given, is called with the number of images done after each batch.
    """
    compiled = {}
    adversarial = []
    for batch_index, start in enumerate(range(0, len(images), batch_size)):
        projected = batch_projected(batch_index, variant, seed)
        if projected not in compiled:
            compiled[projected] = tf.function(
                lambda x, y, k, p=projected: spgd_batch(model_fn, x, y, k, eps=eps,
                                                        iterations=iterations,
                                                        projected=p, seed=seed, patience=patience,
                                                        last_iterate=last_iterate),
                reduce_retracing=True)
        stop = min(start + batch_size, len(images))
        adversarial.append(compiled[projected](
            tf.constant(images[start:stop]), tf.constant(labels[start:stop], tf.int32),
            tf.range(start, stop, dtype=tf.int64)).numpy())
        if progress is not None:
            progress(stop - start)
    return np.concatenate(adversarial)


def saa(model_fn, images, labels, *, eps, iterations, queries, batch_size=128, seed=0,
        progress=None):
    """Sparse-AutoAttack on all ``images``; returns its ``SparseAutoAttackResult``.

    ``progress``, if given, is called with each stage report of ``sparse_autoattack``.
    """
    batches = [(images[start:start + batch_size], labels[start:start + batch_size],
                np.arange(start, min(start + batch_size, len(images))))
               for start in range(0, len(images), batch_size)]
    return sparse_autoattack(model_fn, batches=batches, eps=eps, iterations=iterations,
                             queries=queries,
                             seed=seed, progress=progress)
