"""sigma-zero, the minimum-norm l0 attack of Cina et al., "sigma-zero: Gradient-based
Optimization of l0-norm Adversarial Examples", ICLR 2025 (arXiv 2402.01879).

It finds, per image, a fooling perturbation with as few changed pixels as it can, so one run gives
the robust accuracy at every budget k. Following the reference code (github.com/Cinofix/
sigma-zero-adversarial-attack, ``sigma_zero.py``), with its defaults: 100 steps, Adam with
learning rate 1 and cosine annealing to 1/10 of it, sigma = 1e-3, initial threshold 0.3.
From ``delta = 0``, each step:

1. forward ``x + delta``; loss = ``max(margin, 0) + l0_sigma(delta) / n`` with ``margin`` the true
   logit minus the largest other and ``l0_sigma`` the smooth l0 approximation
   ``sum s / (s + sigma)``; the iterate is kept as the image's best if it fools the model with
   fewer changed pixels than the best so far;
2. the gradient, divided by its l-inf norm (per image), drives one Adam step; ``delta`` is put
   back in the box ``[-x, 1 - x]``;
3. the image's threshold falls by ``0.01 * lr`` while the image is not fooled and rises by as much
   while it is (clipped to [0, 1]); every entry of ``delta`` smaller than it in magnitude is zeroed.

The result is the best (fewest-pixel fooling) iterate; images it never fooled come back clean.

Deviations from the reference:
- l0 counts pixels (positions h, w), as the rest of this project does, where the reference counts
  channel entries: ``s`` is a pixel's squared l2 norm over channels and ``n`` the number of pixels,
  so ``l0_sigma`` approximates the number of changed pixels; thresholding stays per entry, as in
  the reference (a pixel counts as changed when any channel is).
- Every image runs all steps (the reference's fixed-budget variant stops an image once fooled
  within the budget; here the minimum over the whole run is the point).
- The verdict ``is_adversarial`` and the pixel count come from one fresh forward pass on the
  returned image (clipped into [0, 1]), so they describe exactly what is returned.
- The attack draws nothing at random (the reference starts from ``delta = 0`` too): it takes
  ``keys``, ``seed`` and ``counter`` for the common interface only, and every image runs every
  step, so ``compact`` changes nothing.

- With a budget ``eps``, every returned image changes at most ``eps`` pixels, as every attack's
  does: the best iterate cut to its ``eps`` most-changed pixels (squared l2 over channels) if that
  still fools the model, else the clean image. The reference has no such cut (it reports the
  minimum-norm image); ``eps=None`` returns that one, whatever its count (the cascade's
  minimum-norm stage does, for the robust accuracy at every budget).

The interface (model, arrays, keyword names) is every attack's (``common``); ``steps=`` is the old
name of ``iterations=``. Pixels only: a structured ``threat`` is refused.
"""

import math
from typing import NamedTuple

import tensorflow as tf

from tf_fastls0.attacks import common
from tf_fastls0.attacks.outputs import in_input_dtype

DEFAULT_STEPS = 100
LEARNING_RATE = 1.0
SIGMA = 1e-3
THRESHOLD = 0.3
THRESHOLD_RATE = 0.01
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
MIN_GRADIENT_NORM = 1e-12
NOT_FOUND = -1


class SigmaZeroResult(NamedTuple):
    adversarial: tf.Tensor  # [B, H, W, C], the images' dtype: fewest-pixel fooling image, or clean
    is_adversarial: tf.Tensor  # [B] bool: the returned image is misclassified (and within eps)
    pixels: tf.Tensor  # [B] int32: changed pixels of the returned image; NOT_FOUND where unfooled


class _State(NamedTuple):
    delta: tf.Tensor  # [B, H, W, C]
    first_moment: tf.Tensor
    second_moment: tf.Tensor
    threshold: tf.Tensor  # [B]
    best_delta: tf.Tensor
    best_pixels: tf.Tensor  # [B] int32, H*W + 1 while none found


def sigma_zero(model, images, labels, *, eps=None, iterations=DEFAULT_STEPS,
               learning_rate=LEARNING_RATE, sigma=SIGMA, threshold=THRESHOLD, keys=None, seed=0,
               counter=0, clean_logits=None, compact=True, threat=None, steps=None):
    """Runs sigma-zero on a batch (untargeted).

    Args:
      model, images, labels: as every attack takes them (``common``).
      eps: None (minimum norm: the fewest-pixel fooling image, whatever its count), or a budget
        in pixels that every returned image keeps (see the module docstring).
      iterations: steps (static int >= 0, the reference's ``DEFAULT_STEPS`` by default;
        ``steps``: its old name, deprecated); learning_rate, sigma, threshold: the paper's.
      keys, seed, counter, compact: the common interface's; unused (nothing is drawn, every
        image runs every step); clean_logits: saves the clean forward that checks the labels.
        Images the model already misclassifies come back unchanged with 0 pixels.
      threat: None or the pixel threat (structured threats are refused).

    Returns a ``SigmaZeroResult``.
    """
    del keys, seed, counter, compact
    steps = common.check_count(
        "iterations", common.iterations_from(iterations, steps, "sigma_zero", DEFAULT_STEPS))
    eps = None if eps is None else common.check_count("eps", eps)
    common.refuse_structured(threat, "sigma_zero")
    clean = common.prepare(model, images, labels, attack="sigma_zero", clean_logits=clean_logits)
    model_fn, images, x, labels, batch = (clean.model_fn, clean.images, clean.x, clean.labels,
                                          clean.batch)
    positions = x.shape[1] * x.shape[2]
    eta_min = learning_rate / 10.0

    def rate(i):
        """Cosine annealing from ``learning_rate`` to ``eta_min`` over ``steps``."""
        progress = tf.cast(i, tf.float32) / float(max(steps, 1))
        return eta_min + (learning_rate - eta_min) * (1.0 + tf.cos(math.pi * progress)) / 2.0

    def body(i, state):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(state.delta)
            logits = model_fn(x + state.delta)
            loss = (tf.maximum(common.margin(logits, labels), 0.0)
                    + _smooth_pixel_count(state.delta, sigma) / positions)
        gradient = tape.gradient(loss, state.delta)

        fooled = common.fooled(logits, labels)
        pixels = _changed_pixels(state.delta)
        better = tf.logical_and(fooled, pixels < state.best_pixels)
        best_delta = tf.where(better[:, None, None, None], state.delta, state.best_delta)
        best_pixels = tf.where(better, pixels, state.best_pixels)

        gradient = gradient / tf.maximum(_linf(gradient), MIN_GRADIENT_NORM)[:, None, None, None]
        delta, first, second = _adam(state, gradient, rate(i), i + 1)
        delta = tf.clip_by_value(x + delta, 0.0, 1.0) - x
        change = THRESHOLD_RATE * rate(i + 1)
        threshold = tf.clip_by_value(
            state.threshold + tf.where(fooled, change, -change), 0.0, 1.0)
        delta = tf.where(tf.abs(delta) < threshold[:, None, None, None], 0.0, delta)
        return i + 1, _State(delta, first, second, threshold, best_delta, best_pixels)

    zeros = tf.zeros_like(x)
    state = _State(zeros, zeros, zeros, tf.fill([batch], float(threshold)), zeros,
                   tf.fill([batch], positions + 1))
    if steps:
        _, state = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), state))

    adversarial = tf.clip_by_value(x + state.best_delta, 0.0, 1.0)
    if eps is not None:
        adversarial = _most_changed(adversarial, x, min(eps, positions))
    fooled = common.fooled(model_fn(adversarial), labels)
    adversarial = tf.where(fooled[:, None, None, None], adversarial, x)
    pixels = tf.where(fooled, _changed_pixels(adversarial - x), NOT_FOUND)
    return SigmaZeroResult(tf.stop_gradient(in_input_dtype(images, x, adversarial)), fooled,
                           pixels)


def _most_changed(adversarial, x, count):
    """``adversarial`` with only its ``count`` most-changed pixels per image; the rest clean."""
    if count == 0:
        return x
    change = tf.reduce_sum(tf.square(adversarial - x), axis=-1)
    flat = tf.reshape(change, [tf.shape(x)[0], -1])
    _, chosen = tf.math.top_k(flat, k=count)
    rows = tf.broadcast_to(tf.range(tf.shape(flat)[0])[:, tf.newaxis], tf.shape(chosen))
    kept = tf.scatter_nd(tf.stack([rows, chosen], axis=-1), tf.ones_like(chosen),
                         tf.shape(flat)) > 0
    return tf.where(tf.reshape(kept, tf.shape(change))[..., tf.newaxis], adversarial, x)


def _smooth_pixel_count(delta, sigma):
    """``sum over pixels of s / (s + sigma)``, ``s`` a pixel's squared norm over channels."""
    squared = tf.reduce_sum(tf.square(delta), axis=-1)
    return tf.reduce_sum(squared / (squared + sigma), axis=[1, 2])


def _changed_pixels(delta):
    changed = tf.reduce_any(tf.not_equal(delta, 0.0), axis=-1)
    return tf.reduce_sum(tf.cast(changed, tf.int32), axis=[1, 2])


def _linf(tensor):
    return tf.reduce_max(tf.abs(tensor), axis=[1, 2, 3])


def _adam(state, gradient, learning_rate, step):
    """One PyTorch-style Adam step (bias-corrected, epsilon outside the square root)."""
    beta1, beta2 = ADAM_BETAS
    first = beta1 * state.first_moment + (1.0 - beta1) * gradient
    second = beta2 * state.second_moment + (1.0 - beta2) * tf.square(gradient)
    step = tf.cast(step, tf.float32)
    correction1 = 1.0 - tf.pow(beta1, step)
    correction2 = 1.0 - tf.pow(beta2, step)
    denominator = tf.sqrt(second) / tf.sqrt(correction2) + ADAM_EPSILON
    delta = state.delta - (learning_rate / correction1) * first / denominator
    return delta, first, second
