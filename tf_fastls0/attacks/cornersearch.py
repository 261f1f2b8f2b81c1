"""CornerSearch (CS), the black-box l0 attack of Croce & Hein, "Sparse and Imperceivable
Adversarial Attacks", ICCV 2019: the "CS" column of the sPGD and Fast-LS-l0 papers' tables.

Following the reference code (github.com/fra31/sparse-imperceivable-attacks,
``cornersearch_attacks_pt.py``, attack type ``"L0"``) with its defaults ``n_iter = 1000``
(``queries`` here), ``n_max = 100``, ``size_incr = 1``, ``sparsity = eps``. Per correctly
classified image:

1. One-pixel step: every pixel set to every corner of the colour cube ``{0, 1}^C`` (H*W*2^C
   forward passes). The first fooling one (flat order: pixel-major, corner-minor) is the result.
2. Orderings: for each class c, the one-pixel perturbations sorted by ``z_y - z_c`` (by the margin
   ``z_y - max_{c != y} z_c`` for the true class y), ascending: the first ones push hardest
   toward c.
3. For n = 2, ..., eps - 1 (the reference's ``range(2, k)``) and each class c: ``queries`` random
   candidates, each applying n one-pixel perturbations drawn from the first ``n_max`` of class c's
   ordering with ``P(j) ~ 2 (n_max - j) - 1`` (``n_max - floor(sqrt(U{0..n_max^2 - 1})) - 1``);
   the first fooling candidate is the result and the image stops.

Images never fooled come back clean. The paper runs it on 1,000 images because it is slow
(``EVALUATION_IMAGES``): H*W*2^C + (eps - 2) * classes * queries forward passes per robust image.

Deviations from the reference:
- batched: the images move together through the same (n, class) steps, and the candidates of one
  step are tried in chunks of ``CHUNK`` per image, in order, so "the first fooling candidate" is
  the reference's; found images leave the working batch (``compaction``);
- draws are keyed per image (keyed_random) instead of one global numpy stream;
- two draws that hit the same pixel: the later one's colour wins (numpy's fancy assignment does the
  same in practice); the number of classes comes from the model, not a constant 10;
- ``n_max`` is capped at the number of one-pixel perturbations (tiny test images only), and
  ``eps`` at the image's pixels + 1 (its last step then changes up to every pixel; the steps
  beyond would cost minutes and reach no new sparsity).

The interface (model, arrays, keyword names) is every attack's (``common``); its query budget
``queries`` is the reference's ``n_iter``: candidates per sparsity and class, not per image
(``n_iter=`` still works, deprecated). Pixels only: a structured ``threat`` is refused.
"""

import math
from typing import NamedTuple

import tensorflow as tf

from tf_fastls0.attacks import common, compaction
from tf_fastls0.attacks.outputs import in_input_dtype
from tf_fastls0.utils import keyed_random

QUERIES = 1000  # the reference's n_iter
N_MAX = 100
CHUNK = 10  # n-pixel candidates per image and forward pass
ONE_PIXEL_PIXELS = 4  # pixels (times 2^C corners) per image and forward pass in the first step
EVALUATION_IMAGES = 1000  # the paper's number of CS images (a setting the evaluation still lacks)


CornerSearchResult = common.AttackResult


class _Rows(NamedTuple):
    index: tf.Tensor  # [B] int32, the row's position in the caller's batch
    pixels: tf.Tensor  # [B, H*W, C]
    labels: tf.Tensor
    keys: tf.Tensor
    order: tf.Tensor  # [B, K, n_max] int32: per class, the best one-pixel perturbations


class _Work(NamedTuple):
    rows: _Rows
    adversarial: tf.Tensor  # [B, H*W, C]
    active: tf.Tensor  # [B] bool: not fooled yet


def cornersearch(model, images, labels, *, eps, queries=QUERIES, n_max=N_MAX, keys=None, seed=0,
                 counter=0, clean_logits=None, compact=True, threat=None, n_iter=None):
    """Runs CornerSearch (untargeted, l0) on a batch.

    Args:
      model, images, labels: as every attack takes them (``common``); only the model's outputs
        are used, and the images need a static H, W, C.
      eps: l0 budget in pixels (static int >= 0); queries: random candidates per sparsity and
        class (the reference's ``n_iter``, its old name here, deprecated); n_max: the
        reference's (static ints).
      keys, seed, counter, clean_logits, compact: the shared settings (``common``); compaction
        acts between search steps.
      threat: None or the pixel threat (structured threats are refused).

    Returns a ``CornerSearchResult``; images misclassified clean come back unchanged.
    """
    queries = common.renamed(queries, n_iter, "cornersearch", "queries", "n_iter", QUERIES)
    eps, n_iter, n_max = (common.check_count(name, value) for name, value in
                          (("eps", eps), ("queries", queries), ("n_max", n_max)))
    common.refuse_structured(threat, "cornersearch")
    clean = common.prepare(model, images, labels, attack="cornersearch", keys=keys,
                           clean_logits=clean_logits)
    model_fn, images, x, labels, keys, clean_logits = (clean.model_fn, clean.images, clean.x,
                                                       clean.labels, clean.keys, clean.logits)
    height, width, channels = x.shape[1:]
    positions, corners = height * width, 2 ** channels
    # The last step (n = eps - 1 pixels) may change every pixel; beyond it steps only cost time.
    eps = min(eps, positions + 1)
    batch = clean.batch
    clean_fooled = common.fooled(clean_logits, labels)
    if eps == 0:
        return CornerSearchResult(images, clean_fooled)
    n_max = min(n_max, positions * corners)
    chunk = min(CHUNK, n_iter) or 1
    pixels = tf.reshape(x, [batch, positions, channels])

    def run(picks, rows_pixels, valid=None):
        """Logits of the candidates ``picks`` ``[b, n, k]`` (one-pixel indices) and the images."""
        candidates = _compose(rows_pixels, picks, valid, corners, channels)
        shape = tf.shape(candidates)
        flat = tf.reshape(candidates, [-1, height, width, channels])
        logits = model_fn(flat)
        return tf.reshape(logits, [shape[0], shape[1], -1]), candidates

    # 1. Every one-pixel perturbation, a few pixels (times 2^C corners) at a time.
    per_pass = corners * math.gcd(positions, ONE_PIXEL_PIXELS)
    passes = positions * corners // per_pass

    def one_pixel(r, logits):
        picks = (r * per_pass + tf.range(per_pass))[tf.newaxis, :, tf.newaxis]
        pass_logits, _ = run(tf.broadcast_to(picks, [batch, per_pass, 1]), pixels)
        return r + 1, logits.write(r, pass_logits)

    classes = clean_logits.shape[-1]
    _, stacked = tf.while_loop(lambda r, _: r < passes, one_pixel,
                               (tf.constant(0), tf.TensorArray(tf.float32, size=passes)))
    logits = tf.reshape(tf.transpose(stacked.stack(), [1, 0, 2, 3]),
                        [batch, positions * corners, classes])
    fooled = common.fooled(logits, labels[:, tf.newaxis])
    first = tf.argmax(tf.cast(fooled, tf.int32), axis=1, output_type=tf.int32)
    found = tf.logical_and(tf.reduce_any(fooled, axis=1), tf.logical_not(clean_fooled))
    one_pixel_images = _compose(pixels, first[:, tf.newaxis, tf.newaxis], None, corners,
                                channels)[:, 0]
    adversarial = tf.where(found[:, None, None], one_pixel_images, pixels)
    order = _orderings(logits, labels, n_max)

    # 3. n pixels, n = 2 .. eps - 1, each class in turn.
    steps = max(eps - 2, 0) * classes
    longest = max(eps - 1, 1)
    work = _Work(_Rows(tf.range(batch), pixels, labels, keys, order), adversarial,
                 tf.logical_and(tf.logical_not(clean_fooled), tf.logical_not(found)))

    def search_step(q, work, finished):
        work, finished = common.maybe_compact(compact, work, finished, work.active,
                                              lambda work: work.adversarial)
        count, target = 2 + q // classes, q % classes
        draws = keyed_random.integers(work.rows.keys, [n_iter, longest], n_max * n_max, seed,
                                      common.step_counter(counter, q),
                                      keyed_random.STREAM_CORNERSEARCH)
        ranks = n_max - tf.cast(tf.floor(tf.sqrt(tf.cast(draws, tf.float64))), tf.int32) - 1
        ordering = tf.gather(work.rows.order, target, axis=1)  # [b, n_max]
        picks = tf.gather(ordering, ranks, batch_dims=1)  # [b, n_iter, longest]
        valid = tf.broadcast_to(tf.range(longest) < count, tf.shape(picks))

        def try_chunk(j, adversarial, active):
            columns = tf.range(j * chunk, tf.minimum((j + 1) * chunk, n_iter))
            chunk_picks = tf.gather(picks, columns, axis=1)
            chunk_valid = tf.gather(valid, columns, axis=1)
            chunk_logits, candidates = run(chunk_picks, work.rows.pixels, chunk_valid)
            chunk_fooled = common.fooled(chunk_logits, work.rows.labels[:, tf.newaxis])
            hit = tf.logical_and(active, tf.reduce_any(chunk_fooled, axis=1))
            first = tf.argmax(tf.cast(chunk_fooled, tf.int32), axis=1, output_type=tf.int32)
            chosen = tf.gather(candidates, first, batch_dims=1)
            adversarial = tf.where(hit[:, None, None], chosen, adversarial)
            return j + 1, adversarial, tf.logical_and(active, tf.logical_not(hit))

        _, adversarial, active = tf.while_loop(
            lambda j, _, active: tf.logical_and(j < -(-n_iter // chunk), tf.reduce_any(active)),
            try_chunk, (tf.constant(0), work.adversarial, work.active))
        return q + 1, _Work(work.rows, adversarial, active), finished

    finished = work.adversarial
    if steps and n_iter:
        _, work, finished = common.loop(
            lambda q, work, _: tf.logical_and(q < steps, tf.reduce_any(work.active)),
            search_step, 0, work, finished, compact)
    adversarial = compaction.scatter_rows(finished, work.rows.index, work.adversarial)
    adversarial = tf.reshape(adversarial, tf.shape(x))
    is_adversarial = common.fooled(model_fn(adversarial), labels)
    return CornerSearchResult(tf.stop_gradient(in_input_dtype(images, x, adversarial)),
                              is_adversarial)


def _orderings(logits, labels, n_max):
    """``[B, K, n_max]``: per class c, the one-pixel perturbations with the smallest
    ``z_y - z_c`` (for c = y: the smallest margin), first."""
    classes = tf.shape(logits)[-1]
    true = tf.gather(logits, labels, axis=2, batch_dims=1)  # [B, F]
    is_true = tf.one_hot(labels, classes)[:, tf.newaxis, :] > 0
    best_other = tf.reduce_max(tf.where(is_true, -float("inf"), logits), axis=-1)
    scores = tf.where(is_true, (true - best_other)[..., tf.newaxis],
                      true[..., tf.newaxis] - logits)  # [B, F, K]
    return tf.math.top_k(-tf.transpose(scores, [0, 2, 1]), k=n_max).indices


def _corner_colours(picks, corners, channels):
    corner = tf.math.floormod(picks, corners)
    bits = tf.bitwise.right_shift(corner[..., tf.newaxis], tf.range(channels))
    return tf.cast(tf.bitwise.bitwise_and(bits, 1), tf.float32)


def _compose(pixels, picks, valid, corners, channels):
    """``[b, n, H*W, C]``: ``pixels`` with, per candidate, the one-pixel perturbations ``picks``
    ``[b, n, k]`` applied where ``valid`` (a later pick of the same pixel wins)."""
    positions = tf.shape(pixels)[1]
    pixel = tf.math.floordiv(picks, corners)
    if valid is None:
        valid = tf.ones_like(picks, tf.bool)
    later = tf.linalg.band_part(tf.ones([tf.shape(picks)[2]] * 2, tf.bool), 0, -1)
    later = tf.logical_and(later, tf.logical_not(tf.eye(tf.shape(picks)[2], dtype=tf.bool)))
    superseded = tf.reduce_any(
        (pixel[..., :, tf.newaxis] == pixel[..., tf.newaxis, :]) & later
        & valid[..., tf.newaxis, :], axis=-1)
    target = tf.where(tf.logical_and(valid, tf.logical_not(superseded)), pixel, positions)
    shape = tf.shape(picks)
    base = tf.pad(pixels, [[0, 0], [0, 1], [0, 0]])  # a spare pixel takes the unused picks
    base = tf.broadcast_to(base[:, tf.newaxis], [shape[0], shape[1], positions + 1, channels])
    grid = tf.meshgrid(tf.range(shape[0]), tf.range(shape[1]), tf.range(shape[2]), indexing="ij")
    indices = tf.stack([grid[0], grid[1], target], axis=-1)
    composed = tf.tensor_scatter_nd_update(base, indices, _corner_colours(picks, corners,
                                                                          channels))
    return composed[:, :, :positions]

