"""SAIF, the sparse white-box attack of Imtiaz et al., "SAIF: Sparse Adversarial and Imperceptible
Attack Framework" (arXiv 2212.07495, 2022), the "SAIF" column of the sPGD and Fast-LS-l0 papers.

The perturbation is ``mask * p``: a magnitude ``p`` ``[H, W, C]`` bounded in l-inf by ``magnitude``
(1 in our [0, 1] pixel space: any colour, as in the sPGD paper's l0 evaluation) and a binary pixel
mask ``[H, W, 1]`` with ``eps`` ones. Both follow Frank-Wolfe steps on the cross-entropy, with step
size ``1 / sqrt(t + 1)`` at step t (t = 0, 1, ...):

- ``p <- p + a (magnitude * sign(dL/dp) - p)``, then clipped into ``[-magnitude, magnitude]`` and
  the box ``[-x, 1 - x]``;
- ``m <- m + a (z - m)`` with ``z`` the indicator of the ``eps`` largest entries of ``dL/dm``,
  then binarised again to its ``eps`` largest entries.

Start: ``p ~ U(-magnitude, magnitude)``, ``eps`` random mask pixels. This follows the reference
implementation used for the sPGD paper's SAIF column (class ``SAIF``, defaults: 30 steps,
``epsilon = 255/255``, random start).

Deviations from the reference:
- an image stops once fooled and keeps that iterate (the reference stops the whole batch once
  every image is fooled, so an early success could be undone); its dropped from the working batch
  (``compaction``) so the cost follows the images still attacked;
- the random start is clipped into the box (the reference's first forward may see values outside
  [0, 1]); its draws are keyed per image (keyed_random);
- the fooled test of step t is read off step t + 1's forward pass (one forward+backward per step,
  plus one forward for the last iterate), where the reference runs a separate forward after each
  step: the same iterates, one pass fewer per step.

The interface (model, arrays, keyword names) is every attack's (``common``); ``steps=`` is the old
name of ``iterations=``. Pixels only: a structured ``threat`` is refused.
"""

from typing import NamedTuple

import tensorflow as tf

from tf_fastls0.attacks import common, compaction
from tf_fastls0.attacks.outputs import in_input_dtype
from tf_fastls0.attacks.topk_mask import topk_mask
from tf_fastls0.losses import per_example
from tf_fastls0.utils import keyed_random

DEFAULT_STEPS = 30
MAGNITUDE = 1.0


SAIFResult = common.AttackResult


class _Rows(NamedTuple):
    index: tf.Tensor  # [B] int32, the row's position in the caller's batch
    x: tf.Tensor
    labels: tf.Tensor


class _Work(NamedTuple):
    rows: _Rows
    magnitude: tf.Tensor  # [B, H, W, C]
    mask: tf.Tensor  # [B, H, W, 1] in {0, 1}
    active: tf.Tensor  # [B] bool


def saif(model, images, labels, *, eps, iterations=DEFAULT_STEPS, magnitude=MAGNITUDE,
         keys=None, seed=0, counter=0, clean_logits=None, compact=True, threat=None, steps=None):
    """Runs SAIF on a batch (untargeted).

    Args:
      model, images, labels: as every attack takes them (``common``).
      eps: l0 budget in pixels (static int >= 0); iterations: Frank-Wolfe steps (static int >= 0,
        the reference's ``DEFAULT_STEPS`` by default; ``steps``: its old name, deprecated).
      magnitude: the l-inf bound of the perturbation (1: unbounded within [0, 1]).
      keys, seed, counter, clean_logits, compact: the shared settings (``common``).
      threat: None or the pixel threat (structured threats are refused).

    Returns a ``SAIFResult``; images misclassified clean come back unchanged.
    """
    iterations = common.iterations_from(iterations, steps, "saif", DEFAULT_STEPS)
    eps, steps = common.check_count("eps", eps), common.check_count("iterations", iterations)
    common.refuse_structured(threat, "saif")
    clean = common.prepare(model, images, labels, attack="saif", keys=keys,
                           clean_logits=clean_logits)
    model_fn, images, x, labels, keys = (clean.model_fn, clean.images, clean.x, clean.labels,
                                         clean.keys)
    batch = clean.batch
    clean_fooled = common.fooled(clean.logits, labels)
    eps = min(eps, x.shape[1] * x.shape[2])
    if eps == 0 or steps == 0:
        return SAIFResult(images, clean_fooled)

    def evaluate(work):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([work.magnitude, work.mask])
            logits = model_fn(work.rows.x + work.mask * work.magnitude)
            losses = per_example.cross_entropy(work.rows.labels, logits)
        return logits, tape.gradient(losses, [work.magnitude, work.mask])

    def body(t, work, finished):
        work, finished = common.maybe_compact(compact, work, finished, work.active,
                                              lambda work: (work.magnitude, work.mask))
        logits, (magnitude_grad, mask_grad) = evaluate(work)
        active = tf.logical_and(work.active,
                                tf.logical_not(common.fooled(logits, work.rows.labels)))
        rate = 1.0 / tf.sqrt(tf.cast(t, tf.float32) + 1.0)
        new_magnitude = work.magnitude + rate * (magnitude * tf.sign(magnitude_grad)
                                                 - work.magnitude)
        new_magnitude = _clip(new_magnitude, work.rows.x, magnitude)
        new_mask = topk_mask(work.mask + rate * (topk_mask(mask_grad, eps) - work.mask), eps)
        moving = active[:, None, None, None]
        return t + 1, _Work(work.rows, tf.where(moving, new_magnitude, work.magnitude),
                            tf.where(moving, new_mask, work.mask), active), finished

    def keep_going(t, work, finished):
        return tf.logical_and(t < steps, tf.reduce_any(work.active))

    shape = tf.shape(x)
    start = keyed_random.uniform(keys, shape[1:], seed, counter, keyed_random.STREAM_SAIF_MAGNITUDE,
                                 minval=-magnitude, maxval=magnitude)
    scores = keyed_random.uniform(keys, tf.concat([shape[1:3], [1]], 0), seed, counter,
                                  keyed_random.STREAM_SAIF_MASK)
    work = _Work(_Rows(tf.range(batch), x, labels),
                 _clip(tf.reshape(start, shape), x, magnitude),
                 topk_mask(tf.reshape(scores, tf.concat([shape[:3], [1]], 0)), eps),
                 tf.logical_not(clean_fooled))
    finished = (work.magnitude, work.mask)
    _, work, finished = common.loop(keep_going, body, 0, work, finished, compact)
    magnitude_final, mask_final = compaction.scatter_rows(finished, work.rows.index,
                                                          (work.magnitude, work.mask))
    adversarial = tf.where(clean_fooled[:, None, None, None], x,
                           x + mask_final * magnitude_final)
    fooled = common.fooled(model_fn(adversarial), labels)
    return SAIFResult(tf.stop_gradient(in_input_dtype(images, x, adversarial)), fooled)


def _clip(magnitude, x, bound):
    return tf.clip_by_value(magnitude, tf.maximum(-bound, -x), tf.minimum(bound, 1.0 - x))

