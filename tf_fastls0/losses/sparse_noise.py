"""N-FGSM noise for l0 (de Jorge et al. NeurIPS 2022, adapted in SPEC section 5).

Before the training attack each image gets a random sparse perturbation: a pixel count drawn
uniformly from 0 .. 2*eps, that many distinct random positions (h, w), U(-1, 1) added to every
channel there, then clipped to [0, 1]. All draws are keyed per example (``keyed_random``).
As a step add-on (``ADD_ON``): Fast-LS-l0, N-AAER and N-LAP have it, ``--nfgsm_noise`` adds it
to any adversarial method.
"""

import tensorflow as tf

from tf_fastls0.losses.records import AddOn
from tf_fastls0.utils import keyed_random


def noise_mask(image_shape, eps, keys, seed=0, counter=0):
    """Which pixels get noise: bool ``[batch, H, W]``, ``U{0..2*eps}`` distinct positions per image.

    Args:
      image_shape: ``[batch, H, W, C]`` (a TensorShape, list or 1-D int tensor).
      eps: the l0 budget in pixels (Python int or scalar int tensor).
      keys: int ``[batch]``, each example's index in its data set.
      seed, counter: the run's seed and e.g. the training step.
    """
    height, width = image_shape[1], image_shape[2]
    counts = keyed_random.integers(keys, [], 2 * eps + 1, seed, counter,
                                   keyed_random.STREAM_NOISE_COUNT)
    scores = keyed_random.uniform(keys, [height * width], seed, counter,
                                  keyed_random.STREAM_NOISE_POSITIONS)
    # A random permutation's ranks; stable argsort keeps ranks distinct even when scores tie.
    ranks = tf.argsort(tf.argsort(scores, axis=-1, stable=True), axis=-1, stable=True)
    chosen = ranks < counts[:, tf.newaxis]
    return tf.reshape(chosen, [-1, height, width])


def sparse_noise(images, eps, keys, seed=0, counter=0):
    """``clip(x + M * U(-1, 1), 0, 1)`` with M from ``noise_mask``; float ``[batch, H, W, C]``.

    At most ``2 * eps`` pixels of each image change; the count is uniform over 0 .. 2*eps.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    mask = noise_mask(shape, eps, keys, seed, counter)
    values = keyed_random.uniform(keys, shape[1:], seed, counter, keyed_random.STREAM_NOISE_VALUES,
                                  minval=-1.0, maxval=1.0, dtype=images.dtype)
    noise = tf.cast(mask[..., tf.newaxis], images.dtype) * values
    return tf.clip_by_value(images + noise, 0.0, 1.0)


def noised(batch, settings, recipe):
    """The batch's images with their noise at the run's budget (the record's hook)."""
    del settings
    return sparse_noise(batch.images, recipe.eps, batch.indices, recipe.seed, batch.step)


ADD_ON = AddOn("nfgsm_noise", "N-FGSM noise", switch=True, noise=noised)
